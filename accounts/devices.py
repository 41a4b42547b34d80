"""Device cookies: a stranger guessing passwords cannot lock the owner out.

OWASP, "Slow Down Online Guessing Attacks with Device Cookies"
(https://owasp.org/www-community/Slow_Down_Online_Guessing_Attacks_with_Device_Cookies):
a successful sign-in gives the browser a signed cookie naming the account, with a
random nonce. Failed sign-ins are then counted in two places (accounts/services.py,
sign_in):

* a client WITHOUT a valid device cookie for the account ("untrusted") counts against
  the account's limit for untrusted clients (LOGIN_FAILURE_LIMIT); past it, untrusted
  clients are refused for that account (429 + Retry-After);
* a client WITH one counts against that cookie's own limit (LOGIN_DEVICE_FAILURE_LIMIT)
  and is let in while untrusted clients are refused; a cookie that fails too often is
  refused itself for the window (its lockout).

The per-IP limit applies to both. The cookie is signed with Django's signing (HMAC with
SECRET_KEY, its own salt, a timestamp checked against the cookie's lifetime) and carries
a tag of the account's password hash, so a password change or reset revokes every
device cookie of the account. A forged, altered, expired or other account's cookie is
simply untrusted.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.utils.crypto import constant_time_compare, salted_hmac

from accounts.models import User
from accounts.selectors import user_by_email

DEVICE_SALT = "accounts.device-cookie"
MAX_COOKIE_LENGTH = 512  # anything longer was not issued here


@dataclass(frozen=True)
class Device:
    """A device cookie that is valid for the account being signed in to."""

    user_id: int
    nonce: str


def _password_tag(user: User) -> str:
    return salted_hmac(DEVICE_SALT, user.password, algorithm="sha256").hexdigest()[:16]


def _max_age() -> int:
    return settings.LOGIN_DEVICE_COOKIE_DAYS * 24 * 3600


def device_cookie_value(user: User) -> str:
    """A new signed device cookie for the account (a fresh nonce each time)."""
    return signing.dumps({"u": user.pk, "n": secrets.token_urlsafe(18), "p": _password_tag(user)}, salt=DEVICE_SALT)


def device_cookie_set(response: HttpResponse, user: User) -> None:
    """Give the browser a new device cookie after a successful sign-in."""
    response.set_cookie(
        settings.LOGIN_DEVICE_COOKIE_NAME,
        device_cookie_value(user),
        max_age=_max_age(),
        secure=settings.LOGIN_DEVICE_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )


def device_for_sign_in(request: HttpRequest, email: str) -> Device | None:
    """The request's device cookie if it is valid for the account of `email`, else None.

    Looks the account up only when a well-signed cookie is present (one query, whether
    or not the address has an account).
    """
    value = request.COOKIES.get(settings.LOGIN_DEVICE_COOKIE_NAME, "")
    if not value or len(value) > MAX_COOKIE_LENGTH:
        return None
    try:
        data = signing.loads(value, salt=DEVICE_SALT, max_age=_max_age())
    except signing.BadSignature:  # forged, altered or expired
        return None
    if not isinstance(data, dict):
        return None
    user_id, nonce, tag = data.get("u"), data.get("n"), data.get("p")
    if type(user_id) is not int or not isinstance(nonce, str) or not isinstance(tag, str) or not nonce:
        return None
    user = user_by_email(email)
    if user is None or user.pk != user_id or not constant_time_compare(tag, _password_tag(user)):
        return None  # another account's cookie, or the password changed since it was issued
    return Device(user_id=user_id, nonce=nonce)
