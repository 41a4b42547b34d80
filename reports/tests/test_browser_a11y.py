"""Accessibility (issue 19): axe-core, the npm package pinned in package.json (installed into
node_modules/ by `scripts/ensure_services.sh axe`, never served), injected by Playwright into
the main pages. Every page must have 0 serious or critical violations, in the light theme and
the dark one.

It lives in reports/ (the top layer) because it visits every app's pages."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from accounts.models import Membership, Team
from bookings.tests.conftest import create_trip
from sync.relay import relay_sweep
from taskforge.testing.personas import acting, person_create
from tasks import services as task_services

pytestmark = pytest.mark.browser
PASSWORD = "correct-horse-battery-staple"
AXE = Path(settings.BASE_DIR) / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")


def _person(kind: str, name: str) -> object:
    email = f"{name.lower()}-{uuid.uuid4().hex[:6]}@example.com"
    return person_create(kind, email, PASSWORD, email_verified=True, display_name=name)


@pytest.fixture
def site(committed_db, live_server_proc):
    """Made before the browser starts (Playwright's loop forbids the ORM in the test body)."""
    assert AXE.is_file(), "axe-core is missing: run scripts/ensure_services.sh axe"
    admin, editor = _person("site_admin", "Ada"), _person("catalogue_editor", "Eddie")
    traveller, member = _person("traveller", "Tina"), _person("member", "Mo")
    team = Team.objects.create(name="Night ops", slug=f"night-ops-{uuid.uuid4().hex[:6]}", created_by=member)
    Membership.objects.create(team=team, user=member, role="admin")
    trip = create_trip(
        editor, name="Alpine Ski Week", resort="Swiss Alps", start=timezone.localdate() + dt.timedelta(days=40)
    )
    with acting(member):
        task = task_services.task_create(
            actor=member,
            team_id=team.id,
            title="Swap the backup disk",
            description="The **old** disk reports errors.",
            assignee_id=member.pk,
            due_at=timezone.now() + dt.timedelta(days=2),
            tags="hardware",
        )
        task_services.task_create(actor=member, team_id=team.id, title="Plan the rack", status="backlog")
    relay_sweep()  # documents (trip content, task detail) in MongoDB
    return {
        "url": live_server_proc.url,
        "admin": admin,
        "traveller": traveller,
        "member": member,
        "trip": trip,
        "team": team,
        "task": task,
    }


@pytest.fixture
def a11y_page():
    """Headless Chromium whose pages accept the injected axe script (the site's CSP forbids
    inline scripts, so the test context bypasses it; the site's own pages do not need it)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        context = browser.new_context(bypass_csp=True)
        context.set_default_timeout(15000)
        try:
            yield context.new_page()
        finally:
            context.close()
            browser.close()


def _sign_in(page, base: str, user) -> None:
    page.context.clear_cookies()
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=email]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_load_state()


def _violations(page, url: str) -> list[str]:
    """axe-core on the page at `url` (WCAG 2.x A/AA and best practices): the serious and
    critical violations, one line each with the elements."""
    response = page.goto(url)
    expected = 400 if "someday" in url else 200
    assert response is not None and response.status == expected, f"{url}: {response and response.status}"
    page.wait_for_load_state("networkidle")
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "async () => JSON.stringify((await axe.run(document, {resultTypes: ['violations']})).violations)"
    )
    found = []
    for violation in json.loads(result):
        if violation["impact"] in BLOCKING:
            targets = [" ".join(map(str, node["target"])) for node in violation["nodes"]][:5]
            found.append(f"{url} [{violation['impact']}] {violation['id']}: {violation['help']} -> {targets}")
    return found


def test_main_pages_have_no_serious_or_critical_violations(site, a11y_page) -> None:
    page, base = a11y_page, site["url"]
    trip, team, task = site["trip"], site["team"], site["task"]
    found: list[str] = []
    visits = [
        (None, ["/", "/trips/", f"/trips/{trip.code}/"]),
        ("traveller", ["/", f"/trips/{trip.code}/book/", "/accounts/profile/", "/bookings/mine/"]),
        (
            "member",
            [
                f"/tasks/teams/{team.id}/board/",
                f"/tasks/teams/{team.id}/board/?due=week",
                f"/tasks/teams/{team.id}/board/?due=someday",  # the 400 with its reasons
                f"/tasks/{task.id}/",
                f"/tasks/teams/{team.id}/list/",
                "/accounts/profile/",
            ],
        ),
        (
            "admin",
            [
                "/admin/",
                "/admin/accounts/user/",
                f"/admin/accounts/user/{site['member'].pk}/change/",
                "/admin/tasks/task/",
                f"/admin/tasks/task/{task.id}/change/",
                "/admin/accounts/team/add/",
            ],
        ),
    ]
    for who, paths in visits:
        if who:
            _sign_in(page, base, site[who])
        for theme in ("light", "dark"):
            page.emulate_media(color_scheme=theme)
            for path in paths:
                found += _violations(page, base + path)
    assert not found, "\n".join(found)


def test_the_axe_check_catches_a_violation(site, a11y_page) -> None:
    """The check itself works: an image without a text alternative is a critical violation."""
    page = a11y_page
    page.goto(site["url"] + "/")
    page.evaluate("() => document.querySelector('main').insertAdjacentHTML('beforeend', '<img src=x.png>')")
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => JSON.stringify((await axe.run()).violations.map(v => [v.id, v.impact]))")
    assert ["image-alt", "critical"] in json.loads(result)
    assert re.search(r"\d", page.evaluate("() => axe.version"))
