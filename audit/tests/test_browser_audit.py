"""The audit browser in headless Chromium against gunicorn: sign in, filter (htmx), read a diff."""

from __future__ import annotations

import os

import pytest

from accounts.models import Team, User
from taskforge.dbcontext import DbContext, db_context

pytestmark = pytest.mark.browser


@pytest.fixture
def team(committed_db) -> Team:
    """Made before the browser starts (Playwright's loop forbids the ORM in the test body)."""
    admin = User.objects.create_superuser("auditor@example.com", "correct-horse-battery", email_verified=True)
    with db_context(DbContext(user_id=str(admin.pk), role="system", ip="203.0.113.4", request_id="req-browser-01")):
        team = Team.objects.create(name="Night shift", slug="night-shift")
        Team.objects.filter(pk=team.pk).update(name="Day shift")
    return team


def test_admin_filters_the_log_and_reads_a_highlighted_diff(live_server_proc, team, browser_page) -> None:
    page = browser_page
    page.goto(f"{live_server_proc.url}/accounts/login/?next=/audit/")
    page.fill("input[name=email]", "auditor@example.com")
    page.fill("input[name=password]", "correct-horse-battery")
    page.click("form button[type=submit]")
    page.wait_for_url("**/audit/")
    assert "Audit log" in page.locator("h1").inner_text()
    # Filter by table: htmx swaps the results in place and updates the address bar.
    page.fill("#id_table", "accounts_team")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**/audit/?table=accounts_team*")
    rows = page.locator("#audit-entries table tbody tr")
    assert rows.count() == 2
    assert "auditor@example.com" in rows.first.inner_text()
    rows.first.locator("text=Details").click()  # newest first: the rename
    page.wait_for_url("**/audit/entry/**")
    changed = page.locator("tr.diff-changed")
    assert changed.count() == 1 and "Night shift" in changed.inner_text() and "Day shift" in changed.inner_text()
    highlight = page.evaluate("getComputedStyle(document.querySelector('tr.diff-changed')).backgroundColor")
    assert highlight not in ("rgba(0, 0, 0, 0)", "transparent")
    if os.environ.get("AUDIT_SCREENSHOTS"):
        page.screenshot(path=os.path.join(os.environ["AUDIT_SCREENSHOTS"], "audit-entry.png"), full_page=True)
    page.click("text=History of this record")
    page.wait_for_url(f"**/audit/history/accounts_team/{team.pk}/")
    assert page.locator("article.audit-history-entry").count() == 2
    if os.environ.get("AUDIT_SCREENSHOTS"):
        page.screenshot(path=os.path.join(os.environ["AUDIT_SCREENSHOTS"], "audit-history.png"), full_page=True)
        page.goto(f"{live_server_proc.url}/audit/")
        page.screenshot(path=os.path.join(os.environ["AUDIT_SCREENSHOTS"], "audit-list.png"), full_page=True)
