"""Device cookies (issue 14, finding 8): a stranger's wrong passwords lock out untrusted
clients of the account, never a browser that signed in to it before (OWASP, "Slow Down
Online Guessing Attacks with Device Cookies"; accounts/devices.py)."""

from __future__ import annotations

import time

import pytest
from django.conf import settings
from django.core import signing
from django.test import Client

from accounts.devices import DEVICE_SALT
from accounts.models import LoginAttempt

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"
COOKIE = "tf_device"


@pytest.fixture
def owner(make_user):
    return make_user("traveller", email="owen.owner@example.com", email_verified=True)


@pytest.fixture
def neighbour(make_user):
    return make_user("traveller", email="nina.neighbour@example.com", email_verified=True)


def _login(client: Client, email: str, password: str = PASSWORD, ip: str = "198.51.100.10"):
    return client.post("/accounts/login/", {"email": email, "password": password}, REMOTE_ADDR=ip)


def _trusted_browser(user) -> Client:
    """A browser that signed in to the account before (and signed out again)."""
    browser = Client()
    assert _login(browser, user.email, ip="198.51.100.20").status_code == 302
    browser.post("/accounts/logout/")
    assert browser.cookies[COOKIE].value
    return browser


def _attack(email: str, attempts: int) -> list[int]:
    """Wrong passwords from fresh clients on many addresses (under the per-IP limit)."""
    return [_login(Client(), email, "wrong-guess-123", ip=f"203.0.113.{n + 1}").status_code for n in range(attempts)]


def _with_cookie(value: str) -> Client:
    browser = Client()
    browser.cookies[COOKIE] = value
    return browser


def test_a_sign_in_gives_the_browser_a_signed_long_lived_device_cookie(owner) -> None:
    browser = Client()
    response = _login(browser, owner.email)
    assert response.status_code == 302
    morsel = response.cookies[COOKIE]
    assert morsel["httponly"] and morsel["samesite"] == "Lax"
    assert int(morsel["max-age"]) == settings.LOGIN_DEVICE_COOKIE_DAYS * 24 * 3600 >= 30 * 24 * 3600
    assert not morsel["secure"]  # dev/test profile; LOGIN_DEVICE_COOKIE_SECURE follows PRODUCTION
    data = signing.loads(morsel.value, salt=DEVICE_SALT)
    assert data["u"] == owner.pk and len(data["n"]) >= 20  # names the account, with a nonce
    assert PASSWORD not in morsel.value and owner.password not in morsel.value
    # a wrong password gives no cookie; each sign-in a new nonce
    assert COOKIE not in _login(Client(), owner.email, "wrong-guess-123").cookies
    again = _login(browser, owner.email).cookies[COOKIE].value
    assert signing.loads(again, salt=DEVICE_SALT)["n"] != data["n"]


def test_the_attacker_is_refused_but_the_owners_browser_still_gets_in(owner) -> None:
    browser = _trusted_browser(owner)
    assert _attack(owner.email, 10) == [400] * 10
    # the attacker (no device cookie) is refused, even with the right password
    refused = _login(Client(), owner.email, ip="203.0.113.200")
    assert refused.status_code == 429 and 800 < int(refused["Retry-After"]) <= 900
    assert _login(Client(), owner.email, "another-guess", ip="203.0.113.201").status_code == 429
    # the owner's browser, which signed in before, still gets in during the attack
    response = _login(browser, owner.email, ip="198.51.100.20")
    assert response.status_code == 302
    assert browser.session["_auth_user_id"] == str(owner.pk)
    # ...and the owner's success does not give the attacker a fresh allowance
    assert _login(Client(), owner.email, "yet-another-guess", ip="203.0.113.202").status_code == 429


def test_the_owner_may_mistype_during_an_attack(owner, settings) -> None:
    settings.LOGIN_DEVICE_FAILURE_LIMIT = 3
    browser = _trusted_browser(owner)
    _attack(owner.email, 10)
    assert _login(browser, owner.email, "typo-in-password").status_code == 400
    assert _login(browser, owner.email).status_code == 302


def test_a_forged_altered_expired_or_other_accounts_cookie_gives_no_trust(owner, neighbour, monkeypatch) -> None:
    genuine = _trusted_browser(owner).cookies[COOKIE].value
    neighbours = _trusted_browser(neighbour).cookies[COOKIE].value
    payload = signing.loads(genuine, salt=DEVICE_SALT)
    forged = signing.dumps(payload, key="not-the-secret-key-of-this-site", salt=DEVICE_SALT)
    signature = genuine.rsplit(":", 1)[1]
    other_body = signing.dumps({**payload, "u": neighbour.pk}, salt=DEVICE_SALT).rsplit(":", 1)[0]
    altered = f"{other_body}:{signature}"  # the owner's signature on the neighbour's id
    tampered = genuine[:-3] + ("AAA" if not genuine.endswith("AAA") else "BBB")
    real_time = time.time
    with monkeypatch.context() as m:  # the clock: issued longer ago than the cookie lives
        m.setattr(signing.time, "time", lambda: real_time() - (settings.LOGIN_DEVICE_COOKIE_DAYS + 1) * 86400)
        expired = signing.dumps(payload, salt=DEVICE_SALT)
    _attack(owner.email, 10)
    for name, value in [
        ("forged", forged),
        ("altered", altered),
        ("tampered", tampered),
        ("expired", expired),
        ("another account's", neighbours),
        ("garbage", "x" * 5000),
    ]:
        assert _login(_with_cookie(value), owner.email).status_code == 429, name
    assert _login(_with_cookie(genuine), owner.email).status_code == 302  # the genuine one does


def test_a_password_change_revokes_the_accounts_device_cookies(owner) -> None:
    old = _trusted_browser(owner).cookies[COOKIE].value
    owner.set_password("a-new-long-password-1")
    owner.save()
    _attack(owner.email, 10)
    assert _login(_with_cookie(old), owner.email, "a-new-long-password-1").status_code == 429


def test_a_device_cookies_own_failures_lock_that_cookie(owner, settings) -> None:
    settings.LOGIN_DEVICE_FAILURE_LIMIT = 3
    browser = _trusted_browser(owner)
    assert [_login(browser, owner.email, f"stolen-cookie-guess-{n}").status_code for n in range(3)] == [400] * 3
    locked = _login(browser, owner.email)  # even the right password, from this cookie
    assert locked.status_code == 429 and int(locked["Retry-After"]) > 0
    # counted apart: untrusted clients of the account, and other devices, are not locked by it
    assert _login(Client(), owner.email, ip="198.51.100.30").status_code == 302
    reasons = list(LoginAttempt.objects.filter(succeeded=False).values_list("reason", flat=True))
    assert sorted(reasons) == ["device_bad_password"] * 3 + ["device_rate_limited"]


def test_device_cookies_hold_under_the_postgresql_fallback(owner, settings, monkeypatch) -> None:
    from accounts import ratelimit
    from accounts.redisutil import RedisUnavailable

    browser = _trusted_browser(owner)

    def down(*args, **kwargs):
        raise RedisUnavailable("redis is down")

    monkeypatch.setattr(ratelimit, "redis_client", down)
    settings.LOGIN_DEVICE_FAILURE_LIMIT = 2
    _attack(owner.email, 10)
    assert _login(Client(), owner.email, ip="203.0.113.200").status_code == 429
    assert _login(browser, owner.email).status_code == 302
    browser.post("/accounts/logout/")
    assert [_login(browser, owner.email, f"guess-{n}").status_code for n in range(2)] == [400, 400]
    assert _login(browser, owner.email).status_code == 429
    assert not LoginAttempt.objects.filter(reason__in=["pending", "device_pending"]).exists()


def test_an_attack_does_not_stop_the_signed_in_owner_from_erasing_the_account(owner) -> None:
    """The erasure form checks the password under the same limits: the owner's device counts apart."""
    browser = Client()
    assert _login(browser, owner.email, ip="198.51.100.20").status_code == 302
    _attack(owner.email, 10)
    stranger = Client()
    stranger.force_login(owner)  # a session without the device cookie, for the refused side
    refused = stranger.post("/accounts/delete/", {"password": PASSWORD, "confirm": "on"}, REMOTE_ADDR="203.0.113.99")
    assert refused.status_code == 429
    done = browser.post("/accounts/delete/", {"password": PASSWORD, "confirm": "on"}, REMOTE_ADDR="198.51.100.20")
    assert done.status_code == 200 and b"Former user" in done.content
