"""Headless Chromium on the board (issue 19): drag and drop to any allowed column (and the
reason when a column is refused), quick add at the top of a column, and the filters in the URL."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from accounts.models import Membership, Team
from accounts.permissions import permissions_invalidate
from bookings.tests.test_browser_bookings import _off_loop
from taskforge.testing.personas import acting, person_create
from tasks import services
from tasks.tests.test_browser_tasks import PASSWORD, _sign_in

pytestmark = pytest.mark.browser


@pytest.fixture
def crew(committed_db, live_server_proc):
    """Made before the browser starts (Playwright's loop forbids the ORM in the test body)."""
    lead = person_create("member", "lena@example.com", PASSWORD, display_name="Lena Lead")
    mate = person_create("member", "timo@example.com", PASSWORD, display_name="Timo Mate")
    team = Team.objects.create(name="Night ops", slug="night-ops", created_by=lead)
    Membership.objects.create(team=team, user=lead, role="admin")
    Membership.objects.create(team=team, user=mate, role="member")
    with acting(lead):
        todo = services.task_create(actor=lead, team_id=team.id, title="Swap the backup disk", assignee_id=mate.pk)
        idea = services.task_create(actor=lead, team_id=team.id, title="Buy a bigger rack", status="backlog")
    return {"url": live_server_proc.url, "team": team, "todo": todo, "idea": idea}


def test_drag_a_card_to_any_column_and_be_told_why_a_column_is_refused(crew, browser_page) -> None:
    page = browser_page
    _sign_in(page, crew["url"], "lena@example.com", f"/tasks/teams/{crew['team'].id}/board/")
    card = f"#card-{crew['todo'].id}"
    # To do -> Done skips two columns.
    with page.expect_response(lambda r: r.url.endswith("/move/")) as move:
        page.drag_and_drop(card, "#col-done")
    assert move.value.status == 200
    page.wait_for_selector(f"#col-done {card}")
    expect(page.locator(card)).to_be_focused()
    expect(page.locator("#board-live")).to_have_text("Moved “Swap the backup disk” to Done.")
    assert page.locator("#col-todo [data-count]").inner_text() == "0"

    # Backlog -> Done is refused by the workflow: no request, the card says why, the card stays.
    idea = f"#card-{crew['idea'].id}"
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if r.url.endswith("/move/") else None)
    page.drag_and_drop(idea, "#col-done")
    expect(page.locator("#board-live")).to_contain_text("cannot move from Backlog to Done: start it first")
    expect(page.locator("#board-flash")).to_contain_text("start it first")
    assert requests == []
    assert page.locator(f"#col-backlog {idea}").count() == 1


def test_quick_add_a_title_then_enter_and_errors_keep_the_draft(crew, browser_page) -> None:
    page = browser_page
    _sign_in(page, crew["url"], "timo@example.com", f"/tasks/teams/{crew['team'].id}/board/")
    box = "#quick-in_progress-title"
    page.fill(box, "Label the new cables")
    with page.expect_response(lambda r: r.url.endswith("/quick-add/")) as added:
        page.press(box, "Enter")
    assert added.value.status == 200
    page.wait_for_selector("#col-in_progress .task-card:has-text('Label the new cables')")
    expect(page.locator("#board-live")).to_have_text("Added “Label the new cables” to In progress.")
    expect(page.locator(box)).to_be_focused()  # ready for the next title
    expect(page.locator(box)).to_have_value("")

    # A refusal: an empty title gets its message in place.
    with page.expect_response(lambda r: r.url.endswith("/quick-add/")) as refused:
        page.press(box, "Enter")
    assert refused.value.status == 400
    expect(page.locator("#quick-in_progress [role=alert]")).to_contain_text("required")

    # The person became a guest while typing: refused (403), the title is still there.
    def demote() -> None:
        Membership.objects.filter(team=crew["team"], user__email="timo@example.com").update(role="guest")
        permissions_invalidate(crew["team"].id)

    _off_loop(demote)
    page.fill(box, "Half-typed idea")
    with page.expect_response(lambda r: r.url.endswith("/quick-add/")) as forbidden:
        page.press(box, "Enter")
    assert forbidden.value.status == 403
    expect(page.locator("#quick-in_progress [role=alert]")).to_be_visible()
    expect(page.locator(box)).to_have_value("Half-typed idea")


def test_filters_are_kept_in_the_url_and_a_shared_link_shows_the_same_board(crew, browser_page) -> None:
    page = browser_page
    board = f"/tasks/teams/{crew['team'].id}/board/"
    _sign_in(page, crew["url"], "timo@example.com", board)
    page.check("input[name=mine]")
    page.click("form.board-filters button[type=submit]")
    page.wait_for_url("**mine=1**")
    expect(page.locator(".task-card")).to_have_count(1)
    expect(page.locator(".task-card")).to_contain_text("Swap the backup disk")
    shared = page.url

    # Another person opens the shared link: the same filter, applied to them ("mine" is theirs).
    other = page.context.browser.new_context().new_page()
    _sign_in(other, crew["url"], "lena@example.com", board)
    other.goto(shared)
    expect(other.locator("input[name=mine]")).to_be_checked()
    expect(other.locator(".task-card")).to_have_count(0)
    other.select_option("select[name=due]", "none")
    other.uncheck("input[name=mine]")
    other.click("form.board-filters button[type=submit]")
    other.wait_for_url("**due=none**")
    expect(other.locator(".task-card")).to_have_count(2)

    # A broken link: a clear message, not an error page.
    response = other.goto(f"{crew['url']}{board}?due=someday")
    assert response.status == 400
    expect(other.locator("[data-filter-errors]")).to_contain_text("Some filters are not valid")
    other.context.close()
