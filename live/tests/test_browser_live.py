"""End to end in headless Chromium: two people watch one board (gunicorn for the pages, the
live service for the event stream); a card one of them moves appears for the other within
1 s, without a reload. A comment reaches an open task page, and the bell follows."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from accounts.models import Membership, Team
from conftest import LiveEvents
from taskforge.dbcontext import context_for_system, db_context
from taskforge.testing.personas import acting, person_create
from tasks import services

pytestmark = pytest.mark.browser
PASSWORD = "correct-horse-battery"


@pytest.fixture
def live_stack(committed_db, live_server_proc):
    """Users, team and task made before the browser starts (Playwright's loop forbids the ORM
    in the test body); the site restarted on its port with LIVE_EVENTS_URL pointing at the
    live service, which lets the site's origin in."""
    lead = person_create("member", "lena@example.com", PASSWORD, display_name="Lena Lead")
    mate = person_create("member", "timo@example.com", PASSWORD, display_name="Timo Mate")
    with db_context(context_for_system("test live_stack")):
        team = Team.objects.create(name="Night ops", slug="night-ops", created_by=lead)
        Membership.objects.create(team=team, user=lead, role="admin")
        Membership.objects.create(team=team, user=mate, role="member")
    with acting(lead):
        task = services.task_create(actor=lead, team_id=team.id, title="Rotate the keys", status="todo")
    events = LiveEvents()
    events.start(LIVE_ALLOWED_ORIGINS=live_server_proc.url)
    port = live_server_proc.port
    live_server_proc.stop()
    live_server_proc.start(port=port, LIVE_EVENTS_URL=f"{events.url}/events")
    try:
        yield {"url": live_server_proc.url, "team_id": team.id, "task_id": str(task.id)}
    finally:
        events.stop()


def _sign_in(page, url: str, email: str, target: str) -> None:
    page.goto(f"{url}/accounts/login/?next={target}")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(f"**{target}")


def test_a_card_moved_by_one_appears_for_the_other_within_a_second(live_stack, browser_page) -> None:
    url, team_id, task_id = live_stack["url"], live_stack["team_id"], live_stack["task_id"]
    lead = browser_page
    mate = lead.context.browser.new_context().new_page()
    mate.set_default_timeout(15000)
    board = f"/tasks/teams/{team_id}/board/"
    _sign_in(lead, url, "lena@example.com", board)
    _sign_in(mate, url, "timo@example.com", board)
    for page in (lead, mate):
        expect(page.locator("html")).to_have_attribute("data-live", "open")
    card = f"#card-{task_id}"
    expect(mate.locator(f"#col-todo {card}")).to_be_visible()

    # The lead moves the card with the board's own control (htmx, one request).
    started = time.monotonic()
    lead.locator(f"{card} button[data-move=in_progress]").click()
    expect(mate.locator(f"#col-in_progress {card}")).to_be_visible(timeout=1000)
    elapsed = time.monotonic() - started
    expect(mate.locator(f"#col-todo {card}")).to_have_count(0)
    assert elapsed < 1.0, f"the move took {elapsed:.2f} s to reach the other board"
    # The refreshed column works like the first one: the teammate can move it on.
    expect(mate.locator(f"#col-in_progress {card}")).to_contain_text("Rotate the keys")
    expect(mate.locator("html")).to_have_attribute("data-live", "open")

    # A comment reaches the lead's open task page; the mention rings the teammate's bell.
    lead.goto(f"{url}/tasks/{task_id}/")
    expect(lead.locator("html")).to_have_attribute("data-live", "open")
    mate.goto(f"{url}/tasks/{task_id}/")
    mate.fill("textarea[name=body]", "Keys rotated, @lena please check")
    mate.locator("#comments form button[type=submit]").first.click()
    expect(lead.locator("#comment-list")).to_contain_text("Keys rotated", timeout=3000)
    mate.context.close()
