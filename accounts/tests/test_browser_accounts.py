"""In Chromium against a real server: register, confirm the email, sign in, edit the profile, change theme, sign out."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

EMAIL = "browser.traveller@example.com"
PASSWORD = "a browser-made passphrase"


def _off_loop(func, *args):
    """Run ORM code in a worker thread: Playwright's event loop forbids it in the test body."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connections

    def run():
        try:
            return func(*args)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


def _verification_link(email: str) -> str:
    """Send the queued verification email (as the worker would) and read the link from the message."""
    from django.core import mail
    from django.core.mail import get_connection

    from mail.delivery import delivery_send
    from mail.models import EmailDelivery

    delivery = EmailDelivery.objects.get(recipient=email, kind="verify_email")
    mail.outbox = []
    delivery_send(delivery.pk, email_connection=get_connection("django.core.mail.backends.locmem.EmailBackend"))
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [email]
    match = re.search(r"https?://\S+/accounts/verify/\S+/", mail.outbox[0].body)
    assert match, mail.outbox[0].body
    return match.group(0)


def test_register_verify_sign_in_edit_profile_theme_sign_out(live_server_proc, browser_page) -> None:
    page, base = browser_page, live_server_proc.url
    page.goto(base + "/")
    page.get_by_role("link", name="Register").click()
    page.fill("#id_first_name", "Bea")
    page.fill("#id_last_name", "Rowser")
    page.fill("#id_email", EMAIL)
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    page.get_by_role("button", name="Register").click()
    page.get_by_role("heading", name="Check your inbox").wait_for()

    link = _off_loop(_verification_link, EMAIL)
    assert link.startswith(base)
    page.goto(link)  # opening the link alone confirms nothing (mail scanners open links too)
    page.get_by_role("heading", name="Confirm your email").wait_for()
    page.get_by_role("button", name="Confirm my email address").click()
    page.get_by_role("heading", name="Email address confirmed").wait_for()

    page.get_by_role("link", name="Sign in").first.click()
    page.fill("#id_email", EMAIL.upper())  # any case
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(base + "/")
    assert page.locator(".nav-user").inner_text() == "Bea Rowser"

    page.goto(base + "/accounts/profile/")
    assert page.input_value("#id_first_name") == "Bea"
    page.fill("#id_bio", "Likes mountains.")
    page.select_option("#id_email_cadence", "weekly")
    page.uncheck("#id_notify_in_app")
    page.get_by_role("button", name="Save profile").click()
    page.get_by_text("Your profile was saved.").wait_for()
    assert page.input_value("#id_bio") == "Likes mountains."
    assert page.input_value("#id_email_cadence") == "weekly"
    assert not page.is_checked("#id_notify_in_app")

    assert page.get_attribute("html", "data-theme") == "system"
    page.locator("#theme-form").get_by_role("button", name="Dark").click()
    # A locator wait: wait_for_function evaluates a string, which the CSP refuses.
    expect(page.locator("html")).to_have_attribute("data-theme", "dark", timeout=15_000)
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(17, 21, 31)"  # the dark palette of site.css
    page.goto(base + "/")
    assert page.get_attribute("html", "data-theme") == "dark"  # applied on every page

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(base + "/")
    assert page.get_by_role("link", name="Sign in").count() >= 1
    page.goto(base + "/accounts/profile/")
    assert "/accounts/login/" in page.url
