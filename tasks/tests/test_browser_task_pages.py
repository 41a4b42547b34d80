"""Headless Chromium on the board and the task page: a moved card keeps the focus and the move
is announced; refused comments show their errors in the form and never lose the draft (400,
403 after a permission change, 404 after losing access); a stale edit is recovered in one click."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from accounts.models import Membership, Team, User
from accounts.permissions import permissions_invalidate
from bookings.tests.test_browser_bookings import _off_loop
from taskforge.testing.personas import acting, person_create
from tasks import services
from tasks.models import Task
from tasks.tests.test_browser_tasks import PASSWORD, _sign_in

pytestmark = pytest.mark.browser
DRAFT = "Checked the RAID:\ndisk 3 is degraded, replacing it tonight."


@pytest.fixture
def ops(committed_db, live_server_proc):
    """Made before the browser starts (Playwright's loop forbids the ORM in the test body)."""
    lead = person_create("member", "lena@example.com", PASSWORD, display_name="Lena Lead")
    mate = person_create("member", "timo@example.com", PASSWORD, display_name="Timo Mate")
    team = Team.objects.create(name="Night ops", slug="night-ops", created_by=lead)
    Membership.objects.create(team=team, user=lead, role="admin")
    Membership.objects.create(team=team, user=mate, role="member")
    with acting(lead):
        task = services.task_create(
            actor=lead, team_id=team.id, title="Swap the backup disk", description="Old notes", assignee_id=mate.pk
        )
    return {"url": live_server_proc.url, "team": team, "task": task, "lead": lead, "mate": mate}


def _set_role(team: Team, user: User, role: str | None) -> None:
    def change() -> None:
        if role is None:
            Membership.objects.filter(team=team, user=user).delete()
        else:
            Membership.objects.update_or_create(team=team, user=user, defaults={"role": role})
        permissions_invalidate(team.id)

    _off_loop(change)


def test_a_moved_card_keeps_the_focus_and_the_move_is_announced(ops, browser_page) -> None:
    page, task = browser_page, ops["task"]
    _sign_in(page, ops["url"], "lena@example.com", f"/tasks/teams/{ops['team'].id}/board/")
    card = f"#card-{task.id}"
    # Keyboard only: the card's "Move to…" menu opens with Enter, its buttons are next in Tab order.
    page.focus(f"{card} summary")
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")  # the first column it may go to
    page.keyboard.press("Tab")
    expect(page.locator(f"{card} button[data-move=in_progress]")).to_be_focused()
    with page.expect_response(lambda r: r.url.endswith("/move/")) as move:
        page.keyboard.press("Enter")
    assert move.value.status == 200
    page.wait_for_selector(f"#col-in_progress {card}")
    expect(page.locator(card)).to_be_focused()
    live = page.locator("#board-live")
    assert live.get_attribute("aria-live") == "polite"
    assert live.inner_text() == "Moved “Swap the backup disk” to In progress."

    # Keyboard only, again: Tab reaches the card's buttons, the next move keeps the focus too.
    page.keyboard.press("Tab")  # from the focused card to its title link, then its menu
    page.keyboard.press("Tab")
    expect(page.locator(f"{card} summary")).to_be_focused()
    page.keyboard.press("Enter")
    page.focus(f"{card} button[data-move=in_review]")
    with page.expect_response(lambda r: r.url.endswith("/move/")):
        page.keyboard.press("Enter")
    page.wait_for_selector(f"#col-in_review {card}")
    expect(page.locator(card)).to_be_focused()
    assert live.inner_text() == "Moved “Swap the backup disk” to In review."

    # A refused move (the card changed meanwhile: 409) keeps the focus and is announced as well.
    def bump() -> None:
        lead = User.objects.get(email="lena@example.com")
        with acting(lead):
            current = Task.objects.get(id=task.id)
            services.task_move(actor=lead, task_id=task.id, status="done", expected_version=current.version)

    _off_loop(bump)
    with page.expect_response(lambda r: r.url.endswith("/move/")) as refused:
        page.click(f"{card} summary")
        page.click(f"{card} button[data-move=in_progress]")
    assert refused.value.status == 409
    page.wait_for_selector(f"#col-done {card}")
    expect(page.locator(card)).to_be_focused()
    assert "changed by someone else" in live.inner_text()


def test_comment_errors_are_shown_in_the_form_and_the_draft_survives(ops, browser_page, tmp_path) -> None:
    page, task = browser_page, ops["task"]
    task_path = f"/tasks/{task.id}/"
    _sign_in(page, ops["url"], "timo@example.com", task_path)
    page.fill("#id_body", DRAFT)

    # 400: an attachment of a refused type; the error is on the file field, in the form.
    exe = tmp_path / "tool.exe"
    exe.write_bytes(b"MZ\x90\x00binary")
    page.set_input_files("#id_comment_file", str(exe))
    with page.expect_response(lambda r: r.url.endswith("/comments/")) as answer:
        page.click("form.comment-form button[type=submit]")
    assert answer.value.status == 400
    page.wait_for_selector("#comment-file-errors")
    assert "not accepted" in page.inner_text("#comment-file-errors")
    assert page.url.endswith(task_path)  # no separate error page
    assert page.input_value("#id_body") == DRAFT

    # 403: the member became a guest while typing.
    _set_role(ops["team"], ops["mate"], "guest")
    page.set_input_files("#id_comment_file", [])
    with page.expect_response(lambda r: r.url.endswith("/comments/")) as answer:
        page.click("form.comment-form button[type=submit]")
    assert answer.value.status == 403
    page.wait_for_selector("form.comment-form [data-form-errors] [role=alert]")
    assert "You may no longer do this" in page.inner_text("form.comment-form [data-form-errors]")
    assert page.input_value("#id_body") == DRAFT

    # 404: removed from the team. The answer is a message, not a form: it goes into the form's
    # error slot and the text stays.
    _set_role(ops["team"], ops["mate"], None)
    page.fill("#id_body", DRAFT + " (again)")
    with page.expect_response(lambda r: r.url.endswith("/comments/")) as answer:
        page.click("form.comment-form button[type=submit]")
    assert answer.value.status == 404
    expect(page.locator("form.comment-form [data-form-errors]")).to_contain_text("no longer exists")
    assert page.input_value("#id_body") == DRAFT + " (again)"

    # Back in the team: the same form sends it.
    _set_role(ops["team"], ops["mate"], "member")
    page.click("form.comment-form button[type=submit]")
    page.wait_for_selector("#comments .comment")
    assert "disk 3 is degraded" in page.inner_text("#comments .comment")


def test_a_stale_edit_is_recovered_in_one_click(ops, browser_page) -> None:
    page, task = browser_page, ops["task"]
    _sign_in(page, ops["url"], "timo@example.com", f"/tasks/{task.id}/edit/")
    page.fill("#id_title", "Swap the backup disk in rack 4")
    page.fill("#id_description", "My notes: bring the spare from the store room.")

    def theirs() -> None:  # the lead saves first
        lead = User.objects.get(email="lena@example.com")
        with acting(lead):
            services.task_update(
                actor=lead, task_id=task.id, expected_version=1, title="Swap the backup disk (urgent)",
                description="Their notes", status="todo", priority="urgent", assignee_id=ops["mate"].pk,
                due_at=None, tags="", custom_fields={},
            )  # fmt: skip

    _off_loop(theirs)
    page.click("#task-save")
    page.wait_for_selector("#edit-conflict")
    conflict = page.locator("#edit-conflict")
    assert "changed by someone else" in conflict.inner_text()
    title_row = conflict.locator("tr[data-conflict=title]")
    assert title_row.locator(".theirs").inner_text() == "Swap the backup disk (urgent)"
    assert title_row.locator(".yours").inner_text() == "Swap the backup disk in rack 4"
    assert conflict.locator("tr[data-conflict=priority] .theirs").inner_text() == "Urgent"
    assert page.input_value("#id_description") == "My notes: bring the spare from the store room."

    assert page.inner_text("#task-save") == "Save my changes over theirs"
    page.click("#task-save")
    page.wait_for_url(re.compile(rf".*/tasks/{task.id}/$"))

    def saved_row() -> tuple[str, int]:
        with acting(ops["lead"]):
            return Task.objects.values_list("title", "version").get(id=task.id)

    saved = _off_loop(saved_row)
    assert saved == ("Swap the backup disk in rack 4", 3)
    assert page.inner_text("h1") == "Swap the backup disk in rack 4"
