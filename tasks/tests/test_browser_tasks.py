"""End to end in headless Chromium against gunicorn: a staff member creates a task, assigns a
teammate and moves it across the board (htmx, one request per move); the teammate's bell
count rises without a reload (htmx polling); the teammate comments with an @mention picked
from the autocomplete."""

from __future__ import annotations

import os
import re

import pytest
from playwright.sync_api import expect

from accounts.models import Membership, Team
from taskforge.testing.personas import person_create

pytestmark = pytest.mark.browser
PASSWORD = "correct-horse-battery"


@pytest.fixture
def crew_live(committed_db, live_server_proc):
    """Users and team made before the browser starts (Playwright's loop forbids the ORM in
    the test body); the server restarted with a 1-second poll so the test stays short."""
    lead = person_create("member", "lena@example.com", PASSWORD, display_name="Lena Lead")
    mate = person_create("member", "timo@example.com", PASSWORD, display_name="Timo Mate")
    team = Team.objects.create(name="Night ops", slug="night-ops", created_by=lead)
    Membership.objects.create(team=team, user=lead, role="admin")
    Membership.objects.create(team=team, user=mate, role="member")
    live_server_proc.stop()
    live_server_proc.start(NOTIFICATION_POLL_SECONDS="1")
    return {"team_id": team.id, "url": live_server_proc.url}


def _sign_in(page, url: str, email: str, target: str) -> None:
    page.goto(f"{url}/accounts/login/?next={target}")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(f"**{target}")


def _shot(page, name: str) -> None:
    """Screenshots for a human look (TASKS_SCREENSHOTS=/some/dir)."""
    if os.environ.get("TASKS_SCREENSHOTS"):
        page.screenshot(path=os.path.join(os.environ["TASKS_SCREENSHOTS"], f"{name}.png"), full_page=True)


def _bell_count(page) -> int:
    count = page.locator("#bell .count")
    return int(count.inner_text()) if count.count() else 0


def test_create_assign_move_notify_and_mention(crew_live, browser_page) -> None:
    url, team_id = crew_live["url"], crew_live["team_id"]
    lead = browser_page
    mate = lead.context.browser.new_context().new_page()
    mate.set_default_timeout(15000)

    # The teammate is already looking at "My tasks": nothing yet, the bell polls quietly.
    _sign_in(mate, url, "timo@example.com", "/tasks/mine/")
    mate.wait_for_selector("#bell[hx-trigger^='every']")
    assert _bell_count(mate) == 0
    mate.evaluate("window.__noReload = 'still here'")

    # The staff member creates a task and assigns the teammate.
    _sign_in(lead, url, "lena@example.com", f"/tasks/teams/{team_id}/board/")
    lead.click("text=New task")
    lead.fill("#id_title", "Swap the backup disk")
    lead.fill("#id_description", "The **old** disk reports SMART errors.")
    lead.select_option("#id_assignee", label="Timo Mate (member)")
    lead.fill("#id_tags", "hardware")
    lead.click("form.task-form button[type=submit]")
    lead.wait_for_url(re.compile(r".*/tasks/[0-9a-f-]{36}/$"))
    task_url = lead.url
    assert lead.locator("[data-description] strong").inner_text() == "old"
    assert "Timo Mate" in lead.locator("[data-assignee]").inner_text()

    # The teammate's count rises without a reload.
    # (Locator waits, not wait_for_function: that evaluates a string, which the CSP refuses.)
    mate.wait_for_selector("#bell .count")  # shown only from one unread notification up
    assert mate.evaluate("window.__noReload") == "still here"

    # Across the board, one htmx request per move.
    lead.goto(f"{url}/tasks/teams/{team_id}/board/")
    card = "article.task-card:has-text('Swap the backup disk')"
    for target, label in (("in_progress", "In progress"), ("in_review", "In review"), ("done", "Done")):
        with lead.expect_response(lambda r: r.url.endswith("/move/") and r.request.method == "POST") as move:
            lead.locator(card).locator("summary").click()  # the card's "Move to…" menu
            lead.locator(card).locator(f"button[data-move={target}]").click()
        assert move.value.status == 200
        lead.wait_for_selector(f"#col-{target} {card}")
        assert lead.locator(f"#col-{target} [data-count]").inner_text() == "1"
        assert f"to {label}" in lead.locator("#board-flash").inner_text()
    assert lead.locator("#col-todo [data-count]").inner_text() == "0"
    _shot(lead, "board")

    # Every status change notified the assignee (who watches the task): the count keeps rising.
    expect(mate.locator("#bell .count")).to_have_text(re.compile(r"^([4-9]|\d\d+)$"), timeout=15_000)
    assert mate.evaluate("window.__noReload") == "still here"

    # The teammate comments and mentions the staff member, picked from the autocomplete.
    mate.goto(task_url)
    mate.locator("#id_body").press_sequentially("Swapped it. @le")
    mate.wait_for_selector("[data-mention-insert='@lena']")
    mate.click("[data-mention-insert='@lena']")
    mate.locator("#id_body").press_sequentially("please check the RAID status.")
    assert mate.locator("#id_body").input_value() == "Swapped it. @lena please check the RAID status."
    mate.click("form.comment-form button[type=submit]")
    mate.wait_for_selector("#comments .comment .mention")
    assert mate.locator("#comments .comment .mention").inner_text() == "@lena"
    _shot(mate, "task")

    # ... and the staff member's bell shows the mention.
    lead.goto(f"{url}/notifications/")
    assert "mentioned you" in lead.locator("#notification-list").inner_text()
    _shot(lead, "notifications")
    lead.goto(f"{url}/dashboard/teams/{team_id}/")
    _shot(lead, "dashboard")
    lead.goto(f"{url}/tasks/teams/{team_id}/list/")
    _shot(lead, "list")
    mate.context.close()
