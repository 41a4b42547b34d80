"""Registration and email verification: a traveller registers, confirms the address by the
emailed link, and may ask for a new link. Taken addresses get the same answer as new ones."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from django.contrib.auth.hashers import make_password
from django.core import signing
from django.db import IntegrityError, transaction
from django.urls import reverse

from accounts import emails
from accounts.models import User
from accounts.ratelimit import throttle_hit
from accounts.selectors import user_by_email
from accounts.services.profile import profile_write
from taskforge.errors import Gone, NotFound, RateLimited

VERIFY_SALT = "accounts.verify-email"
VERIFY_MAX_AGE = 3 * 24 * 3600


def email_normalise(email: str) -> str:
    return email.strip().lower()


def verification_token(user: User) -> str:
    return signing.dumps({"u": user.pk, "e": user.email}, salt=VERIFY_SALT)


def verification_send(user: User) -> None:
    path = reverse("accounts:verify", args=[verification_token(user)])
    emails.verification_email(user_id=user.pk, name=user.display_name, verify_path=path)


def user_register(*, email: str, password: str, first_name: str, last_name: str, ip: str) -> User | None:
    """Create a traveller and email them a verification link.

    A taken address gets the same answer (None instead of the user, which the view
    does not reveal) and its owner is told by email (at most once an hour), so
    registration cannot be used to find out who has an account, nor to flood its owner.
    It also takes as long: the password is hashed on both paths (the hasher is most of
    the time a registration takes).
    """
    wait = throttle_hit(f"register:ip:{ip}", limit=20, window=3600)
    if wait:
        raise RateLimited("Too many registrations from your network. Try again later.", retry_after=wait)
    email = email_normalise(email)
    existing = user_by_email(email)
    if existing is None:
        try:
            with transaction.atomic():
                user = User.objects.create_user(email, password, display_name=f"{first_name} {last_name}".strip()[:150])
                profile_write(user, changes={"first_name": first_name.strip(), "last_name": last_name.strip()})
                verification_send(user)
            return user
        except IntegrityError:
            existing = user_by_email(email)  # registered concurrently
            if existing is None:
                raise
    else:
        # The same work as creating the account would have done: without it a taken
        # address answered in a fraction of the time and gave itself away.
        make_password(password)
    # The owner hears of it at most once an hour, however often the address is tried (the
    # answer above stays the same). The address is hashed so Redis holds no personal data.
    bucket = "register:exists:" + hashlib.sha256(email.encode()).hexdigest()[:40]
    if throttle_hit(bucket, limit=1, window=3600) == 0:
        with transaction.atomic():
            emails.account_exists_email(user_id=existing.pk, nonce=secrets.token_hex(8))
    return None


def _verification_data(token: str) -> dict[str, Any]:
    try:
        data = signing.loads(token, salt=VERIFY_SALT, max_age=VERIFY_MAX_AGE)
    except signing.SignatureExpired:
        raise Gone("This confirmation link has expired. Sign in to get a new one.") from None
    except signing.BadSignature:
        raise NotFound("This confirmation link is not valid.") from None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int):
        raise NotFound("This confirmation link is not valid.")
    return data


def email_verify_check(*, token: str) -> None:
    """Is this a valid, unexpired link for a current address? Changes nothing (the link
    page is a GET, which mail scanners and link previews fetch on their own)."""
    data = _verification_data(token)
    # The address is part of the token: a link for an old address confirms nothing.
    if not User.objects.filter(pk=data["u"], is_active=True, email=data.get("e")).exists():
        raise NotFound("This confirmation link is not valid.")


def email_verify(*, token: str) -> User:
    """Confirm the address (the POST of the link page's button)."""
    data = _verification_data(token)
    with transaction.atomic():
        user = User.objects.select_for_update().filter(pk=data["u"], is_active=True).first()
        # The address is part of the token: a link for an old address confirms nothing.
        if user is None or user.email != data.get("e"):
            raise NotFound("This confirmation link is not valid.")
        if not user.email_verified:
            user.email_verified = True
            user.save(update_fields=["email_verified"])
    return user


def verification_resend(*, email: str, ip: str) -> None:
    """Send a new link if the address belongs to an unverified account (silently otherwise)."""
    wait = throttle_hit(f"verify-resend:ip:{ip}", limit=10, window=3600)
    if wait:
        raise RateLimited("Too many requests. Try again later.", retry_after=wait)
    user = user_by_email(email)
    if user is not None and user.is_active and not user.email_verified:
        if throttle_hit(f"verify-resend:user:{user.pk}", limit=3, window=3600) == 0:
            with transaction.atomic():
                verification_send(user)
