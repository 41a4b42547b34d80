"""Traveller registration, password rules and email verification."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.core import signing
from django.test import Client

from accounts.models import User
from accounts.tests.conftest import queued_link

pytestmark = pytest.mark.django_db

GOOD = "a-long-enough-passphrase"


def _register(client: Client, email: str = "new.person@example.com", password: str = GOOD, **extra: str):
    data = {"first_name": "Nia", "last_name": "Nova", "email": email, "password1": password, "password2": password}
    data.update(extra)
    return client.post("/accounts/register/", data)


def test_registration_creates_an_unverified_traveller_and_emails_a_link(client: Client) -> None:
    response = _register(client, email="New.Person@Example.com")
    assert response.status_code == 200
    assert b"Check your inbox" in response.content
    user = User.objects.get(email="new.person@example.com")  # stored lower-case
    assert user.capabilities == frozenset() and not user.email_verified and user.display_name == "Nia Nova"
    assert user.profile_version == 1  # the profile document is on its way through the outbox
    link = queued_link("verify_email", key="verify_url", user_id=user.pk)
    assert link.startswith("/accounts/verify/")


def test_password_shorter_than_ten_characters_is_refused(client: Client) -> None:
    response = _register(client, password="short-pw1")
    assert response.status_code == 400
    assert b"at least 10 characters" in response.content
    assert not User.objects.filter(email="new.person@example.com").exists()


def test_a_64_character_password_is_accepted_and_works(client: Client) -> None:
    password = "correct horse battery staple " * 2 + "abcdef"
    assert len(password) == 64
    assert _register(client, password=password).status_code == 200
    user = User.objects.get(email="new.person@example.com")
    assert user.check_password(password)
    assert user.password.startswith("argon2$")


def test_mismatched_passwords_and_bad_email_are_clear_400s(client: Client) -> None:
    response = client.post(
        "/accounts/register/", {"first_name": "A", "email": "not-an-email", "password1": GOOD, "password2": GOOD + "x"}
    )
    assert response.status_code == 400
    assert b"Enter a valid email address" in response.content
    assert User.objects.count() == 0


def test_a_taken_email_gets_the_same_answer_and_the_owner_is_told(client: Client, make_user) -> None:
    owner = make_user("traveller", email="taken@example.com")
    response = _register(client, email="TAKEN@example.com")
    assert response.status_code == 200 and b"Check your inbox" in response.content
    assert User.objects.filter(email__iexact="taken@example.com").count() == 1
    from mail.models import EmailDelivery

    assert EmailDelivery.objects.filter(user_id=owner.pk, kind="account_exists").exists()


def _answer(response) -> tuple[int, bytes]:
    """What the person registering sees, without the per-client CSRF token."""
    return response.status_code, re.sub(rb'"X-CSRFToken": "[^"]+"', b"", response.content)


def test_re_registering_a_taken_address_emails_its_owner_at_most_once_an_hour(make_user, monkeypatch) -> None:
    import time

    from mail.models import EmailDelivery

    owner = make_user("traveller", email="taken@example.com")

    def told() -> int:
        return EmailDelivery.objects.filter(user_id=owner.pk, kind="account_exists").count()

    first = _register(Client(), email="taken@example.com")
    assert told() == 1
    again = _register(Client(), email="Taken@Example.com ")  # the same address, spelt differently
    also = _register(Client(), email="taken@example.com")
    assert told() == 1  # the owner is not flooded
    # The person registering cannot tell the difference: the same page as for the first
    # attempt, and as for an address that had no account.
    fresh = _register(Client(), email="someone.new@example.com")
    assert _answer(first) == _answer(also)
    assert _answer(again)[0] == 200 and b"Check your inbox" in again.content
    assert _answer(fresh) == (200, _answer(first)[1].replace(b"taken@example.com", b"someone.new@example.com"))

    # An hour later (the clock moved on), the owner is told again.
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 3601)
    _register(Client(), email="taken@example.com")
    assert told() == 2


def test_the_verification_link_confirms_the_address_once_valid(client: Client) -> None:
    _register(client)
    user = User.objects.get(email="new.person@example.com")
    link = queued_link("verify_email", key="verify_url", user_id=user.pk)
    assert client.get(link).status_code == 200  # the page with the button
    response = client.post(link)
    assert response.status_code == 200 and b"Email address confirmed" in response.content
    user.refresh_from_db()
    assert user.email_verified
    assert client.post(link).status_code == 200  # pressing again is harmless


def test_a_forged_or_expired_verification_link_is_refused(client: Client, make_user, settings) -> None:
    user = make_user("traveller")
    assert client.get("/accounts/verify/not-a-token/").status_code == 404
    forged = signing.dumps({"u": user.pk, "e": user.email}, salt="another-salt")
    assert client.get(f"/accounts/verify/{forged}/").status_code == 404
    # A link for a previous address confirms nothing.
    stale = signing.dumps({"u": user.pk, "e": "old@example.com"}, salt="accounts.verify-email")
    assert client.get(f"/accounts/verify/{stale}/").status_code == 404
    import time

    from accounts.services.registration import verification_token

    token = verification_token(user)
    real_time = time.time
    try:
        time.time = lambda: real_time() + 4 * 24 * 3600  # four days later
        response = client.get(f"/accounts/verify/{token}/")
    finally:
        time.time = real_time
    assert response.status_code == 410 and b"expired" in response.content
    user.refresh_from_db()
    assert not user.email_verified


def test_an_unverified_traveller_cannot_sign_in_but_gets_a_new_link(client: Client, make_user) -> None:
    user = make_user("traveller", email="unverified@example.com")
    response = client.post("/accounts/login/", {"email": "unverified@example.com", "password": "correct-horse-battery"})
    assert response.status_code == 403
    assert b"confirm your email address" in response.content
    assert "_auth_user_id" not in client.session
    assert queued_link("verify_email", key="verify_url", user_id=user.pk)
    user.email_verified = True
    user.save()
    response = client.post("/accounts/login/", {"email": "unverified@example.com", "password": "correct-horse-battery"})
    assert response.status_code == 302


def test_resend_form_answers_the_same_for_unknown_addresses(client: Client, make_user) -> None:
    user = make_user("traveller", email="again@example.com")
    assert client.get("/accounts/verify/resend/").status_code == 200
    assert client.post("/accounts/verify/resend/", {"email": "again@example.com"}).status_code == 200
    assert client.post("/accounts/verify/resend/", {"email": "nobody@example.com"}).status_code == 200
    assert client.post("/accounts/verify/resend/", {"email": "nope"}).status_code == 400
    assert queued_link("verify_email", key="verify_url", user_id=user.pk)


def test_signed_in_users_are_sent_away_from_registration(make_user) -> None:
    from accounts.tests.conftest import client_for

    client = client_for(make_user("traveller", email_verified=True))
    response = client.get("/accounts/register/")
    assert response.status_code == 302 and response["Location"] == "/accounts/profile/"


# --- security review: timing (finding 5) and state-changing GETs (finding 9) --------------------


class SlowHasher(PBKDF2PasswordHasher):
    """About 150 ms per hash here: the production hasher's cost is what leaks, so the test
    makes the hash the biggest part of the request, as it is in production."""

    iterations = 400_000


def test_registration_takes_as_long_for_a_taken_email_as_for_a_new_one(client: Client, make_user, settings) -> None:
    import statistics
    import time

    settings.PASSWORD_HASHERS = ["accounts.tests.test_registration.SlowHasher"]
    make_user("traveller", email="already@example.com")

    def timed(email: str) -> float:
        start = time.perf_counter()
        response = _register(Client(), email=email)
        assert response.status_code == 200 and b"Check your inbox" in response.content
        return time.perf_counter() - start

    timed("warm.up@example.com")
    new = statistics.median(timed(f"fresh{i}@example.com") for i in range(3))
    taken = statistics.median(timed("already@example.com") for _ in range(3))
    ratio = max(new, taken) / min(new, taken)
    assert ratio < 2.0, f"new address {new * 1000:.0f} ms, taken address {taken * 1000:.0f} ms"


def test_opening_the_verification_link_changes_nothing_until_the_button_is_pressed(client: Client) -> None:
    _register(client)
    user = User.objects.get(email="new.person@example.com")
    link = queued_link("verify_email", key="verify_url", user_id=user.pk)
    page = client.get(link)  # what a mail scanner does
    assert page.status_code == 200
    assert b"Confirm my email address" in page.content and b'method="post"' in page.content
    assert b"csrfmiddlewaretoken" in page.content
    user.refresh_from_db()
    assert not user.email_verified
    # a POST without the CSRF token is refused
    strict = Client(enforce_csrf_checks=True)
    assert strict.post(link).status_code == 403
    user.refresh_from_db()
    assert not user.email_verified
    response = client.post(link)
    assert response.status_code == 200 and b"Email address confirmed" in response.content
    user.refresh_from_db()
    assert user.email_verified


def test_a_bad_verification_link_is_refused_on_post_too(client: Client, make_user) -> None:
    make_user("traveller")
    assert client.post("/accounts/verify/not-a-token/").status_code == 404
