"""The Content-Security-Policy in headless Chromium against gunicorn: script and style that
somebody manages to inject into a real page do not run, and nothing the site itself does
(its pages, htmx, the report charts, the Django admin) is refused by the policy."""

from __future__ import annotations

import datetime as dt
import re
import time
import uuid
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from bookings import services as booking_services
from bookings.tests.conftest import create_trip
from reports import etl
from reports.tests.testdata import star_drop
from sync.relay import relay_sweep
from taskforge.testing.personas import person_create

pytestmark = pytest.mark.browser
PASSWORD = "correct-horse-battery-staple"

# Runs in every document before its own scripts (Playwright injects it outside the page's CSP).
RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(e.violatedDirective + " " + (e.blockedURI || "") + " " + (e.sample || ""));
});
"""

# What an attacker's markup would do, put into the live page's DOM.
INJECT = """() => {
  document.body.insertAdjacentHTML("beforeend",
    '<img id="x-img" src="data:," onerror="window.__pwned_handler = 1">' +
    '<p id="x-styled" style="color: rgb(255, 0, 0)">styled</p>' +
    '<a id="x-link" href="javascript:window.__pwned_url = 1">x</a>');
  const script = document.createElement("script");
  script.textContent = "window.__pwned_script = 1";
  document.body.appendChild(script);
  document.getElementById("x-link").click();
}"""

OUTCOME = """() => ({
  handler: window.__pwned_handler === 1,
  script: window.__pwned_script === 1,
  url: window.__pwned_url === 1,
  styled: getComputedStyle(document.getElementById("x-styled")).color === "rgb(255, 0, 0)",
})"""


def _wait_until(page, expression: str, seconds: float = 10) -> None:
    """Poll from the test: page.wait_for_function evaluates its string inside the page,
    where the CSP refuses eval (page.evaluate is not subject to it)."""
    deadline = time.monotonic() + seconds
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"still false after {seconds} s: {expression}"
        page.wait_for_timeout(100)


def _user(role: str, **extra: Any) -> Any:
    return person_create(role, f"{role}-{uuid.uuid4().hex[:8]}@example.com", PASSWORD, email_verified=True, **extra)


def _sign_in(page, base: str, user: Any, next_url: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{base}/accounts/login/?next={next_url}")
    page.fill("input[name=email]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(re.compile(re.escape(next_url) + "$"))


def test_injected_inline_script_handler_url_and_style_do_not_run(live_server_proc, browser_page) -> None:
    page = browser_page
    page.add_init_script(RECORD_VIOLATIONS)

    # The payload works where there is no policy (so the test can tell the difference)...
    page.set_content("<!doctype html><html><body><p>no policy here</p></body></html>")
    page.evaluate(INJECT)
    page.wait_for_function("window.__pwned_handler === 1")
    assert page.evaluate(OUTCOME) == {"handler": True, "script": True, "url": True, "styled": True}

    # ...and does nothing on the site's pages.
    for path in ("/", "/accounts/login/"):
        page.goto(live_server_proc.url + path)
        assert page.evaluate("typeof window.htmx") == "object"  # the site's own (static) scripts run
        page.evaluate(INJECT)
        _wait_until(page, "window.__csp.length >= 4 || window.__pwned_handler === 1")
        assert page.evaluate(OUTCOME) == {"handler": False, "script": False, "url": False, "styled": False}
        refused = " ".join(page.evaluate("window.__csp"))
        assert "script-src-attr" in refused  # the onerror handler
        assert "script-src-elem" in refused  # the inline <script>
        assert "style-src-attr" in refused  # the style="" attribute


@pytest.fixture
def scene(committed_db):
    """Made before the browser starts (Playwright's loop forbids the ORM in the test body):
    a traveller with a booking, a team member with a task, a site admin, a trip, report data."""
    from accounts.models import Membership, Team
    from taskforge.testing.personas import acting
    from tasks import services as task_services

    traveller, staff, admin = _user("traveller"), _user("staff", display_name="Sol Staff"), _user("admin")
    team = Team.objects.create(name="Ops", slug=f"ops-{staff.pk}", created_by=staff)
    Membership.objects.create(team=team, user=staff, role="admin")
    with acting(staff):
        task = task_services.task_create(
            actor=staff, team_id=team.id, title="Check the boilers", description="Before **winter**."
        )
    trip = create_trip(
        staff, name="Alpine Ski Week", resort="Swiss Alps", start=timezone.localdate() + dt.timedelta(days=40)
    )
    relay_sweep()
    with acting(traveller):
        booking, _ = booking_services.booking_create(
            actor=traveller,
            trip_code=trip.code,
            travel_date=trip.start,
            travellers=2,
            idempotency_key=uuid.uuid4(),
            expected_total_minor=trip.price_minor * 2,
        )
    star_drop()
    assert etl.run_etl().status == "ok"
    yield {"traveller": traveller, "staff": staff, "admin": admin, "team": team, "task": task, "trip": trip,
           "booking": booking}  # fmt: skip
    star_drop()


def test_the_sites_own_pages_break_no_rule_of_the_policy(live_server_proc, scene, browser_page) -> None:
    page, base = browser_page, live_server_proc.url
    page.add_init_script(RECORD_VIOLATIONS)
    console: list[str] = []
    page.on("console", lambda msg: console.append(msg.text) if "Content Security Policy" in msg.text else None)
    refused: dict[str, list[str]] = {}

    def visit(path: str) -> None:
        response = page.goto(base + path)
        assert response is not None and response.status == 200, (path, response and response.status)
        assert "Content-Security-Policy" in {name.title() for name in response.headers}
        page.wait_for_load_state("networkidle")
        check(path)

    def check(where: str) -> None:
        found = page.evaluate("window.__csp")
        if found:
            refused[where] = found

    trip, booking, task, team = scene["trip"], scene["booking"], scene["task"], scene["team"]

    for path in ("/", "/trips/", f"/trips/{trip.code}/", "/accounts/register/", "/accounts/password/reset/"):
        visit(path)

    _sign_in(page, base, scene["traveller"], "/bookings/mine/")
    check("/bookings/mine/")
    for path in (f"/bookings/{booking.pk}/", "/accounts/profile/", "/accounts/sessions/", "/accounts/data/"):
        visit(path)
    visit(f"/trips/{trip.code}/book/")
    page.fill("input[name=travellers]", "3")
    page.wait_for_selector(f"#quote [data-total='{trip.price_minor * 3}']")  # htmx: hx-get on input
    check("book: live quote")
    visit("/trips/?q=alpine")

    _sign_in(page, base, scene["staff"], "/tasks/")
    check("/tasks/")
    for path in (
        f"/tasks/teams/{team.id}/board/",
        f"/tasks/teams/{team.id}/list/",
        f"/tasks/{task.id}/",
        "/dashboard/",
        "/notifications/",
        "/teams/",
        f"/teams/{team.slug}/",
        "/bookings/staff/",
        "/trips/staff/",
        f"/trips/staff/{trip.code}/edit/",
        "/reports/",
        "/reports/revenue/daily/",
        "/reports/seats/",
        "/reports/resorts/",
        "/reports/tasks/",
    ):
        visit(path)
    visit("/tasks/search/")
    page.fill("#q", "boilers")
    page.wait_for_selector("#search-results >> text=Check the boilers")  # htmx: hx-get as you type
    check("tasks: search as you type")

    _sign_in(page, base, scene["admin"], "/admin/")
    check("/admin/")
    assert page.locator("#backup-status").count() == 1
    for path in ("/admin/accounts/user/", "/admin/bookings/booking/", "/admin/tasks/task/", "/audit/", "/system/"):
        visit(path)
    # The admin's own JavaScript: inline rows, select2 autocomplete, the slug prepopulated
    # from the name.
    visit(f"/admin/accounts/user/{scene['traveller'].pk}/change/")
    page.click(".add-row a")  # "Add another Membership"
    page.wait_for_selector("#memberships-0, .dynamic-memberships, tr.form-row:not(.empty-form)")
    check("admin: user change form")
    visit("/admin/accounts/team/add/")
    page.locator("#id_name").press_sequentially("Night Shift")  # prepopulate.js listens to keyup
    expect(page.locator("#id_slug")).to_have_value("night-shift")
    page.click("#id_created_by + .select2 .select2-selection")
    page.wait_for_selector(".select2-results__option")
    check("admin: team add form")

    assert refused == {} and console == []
