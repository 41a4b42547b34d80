"""The API documentation page in headless Chromium: Swagger UI renders the schema from the
site's own static files (no other host is contacted), with no script refused by the CSP."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(e.violatedDirective + " " + (e.blockedURI || ""));
});
"""


def test_docs_page_renders_the_schema(live_server_proc, browser_page) -> None:
    page, base = browser_page, live_server_proc.url
    hosts: set[str] = set()
    page.on("request", lambda request: hosts.add(urlsplit(request.url).netloc))
    problems: list[str] = []
    page.on("console", lambda message: problems.append(f"console {message.type}: {message.text}"))
    page.on("response", lambda r: r.status >= 400 and problems.append(f"{r.status} {r.url}"))
    page.add_init_script(RECORD_VIOLATIONS)
    response = page.goto(base + "/api/v1/docs/")
    assert response is not None and response.status == 200
    try:
        expect(page.locator(".swagger-ui .info .title")).to_contain_text("TaskForge API")
    except AssertionError:
        raise AssertionError(f"{problems} {page.evaluate('window.__csp')}") from None
    # The operations are listed, grouped by tag, with their paths.
    expect(page.locator(".opblock-tag-section").first).to_be_visible()
    expect(page.get_by_text("/api/v1/me/", exact=True).first).to_be_visible()
    expect(page.get_by_text("/api/v1/trips/", exact=True).first).to_be_visible()
    # Open one operation: its parameters and the documented error responses show.
    page.locator(".opblock-summary", has_text="/api/v1/trips/").first.click()
    expect(page.locator(".opblock-body").first).to_contain_text("application/problem+json")
    assert hosts == {urlsplit(base).netloc}, hosts
    violations = [v for v in page.evaluate("window.__csp") if v.startswith("script-src")]
    assert violations == []
