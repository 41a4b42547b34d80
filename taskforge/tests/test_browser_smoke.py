"""The site in a real browser, served by gunicorn: the layout, its CSS and htmx load."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def test_home_page_in_chromium(live_server_proc, browser_page) -> None:
    browser_page.goto(live_server_proc.url + "/")
    assert browser_page.locator(".brand").inner_text() == "TaskForge"
    # static files are served (WhiteNoise) and htmx initialised
    assert browser_page.evaluate("typeof window.htmx") == "object"
    background = browser_page.evaluate("getComputedStyle(document.querySelector('.topbar')).position")
    assert background == "sticky"
    browser_page.goto(live_server_proc.url + "/readyz")
    assert '"status": "ok"' in browser_page.content()
