"""Personal access tokens for the REST API: created and revoked on the profile page, and
checked on every API request (accounts.models.ApiToken says what is stored)."""

from __future__ import annotations

import hashlib
import ipaddress
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from accounts.models import ApiToken, ApiTokenScope, User
from taskforge.dbcontext import context_for_system, db_context
from taskforge.errors import Conflict, NotFound, ServiceError

TOKEN_PREFIX = "tf"  # noqa: S105 - the fixed label every token starts with, not a secret
TOKEN_RE = re.compile(r"^tf_([0-9a-f]{8})_[A-Za-z0-9_-]{43}$")
# How many tokens (not revoked) a person may hold: enough for every script, few enough to review.
MAX_TOKENS_PER_USER = 50
# Last use is written at most this often per token (each write is an audited UPDATE).
LAST_USED_RESOLUTION = timedelta(seconds=60)
MAX_EXPIRY = timedelta(days=366)


def api_token_hash(token: str) -> str:
    """SHA-256 of a token: what the database keeps (the token has 256 random bits)."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class CreatedToken:
    token: ApiToken
    secret: str  # shown once, never stored


def api_token_create(*, user: User, name: str, scope: str, expires_at: datetime | None = None) -> CreatedToken:
    """A new token for `user`; the returned secret is shown once and never again."""
    name = name.strip()
    if not name:
        raise ServiceError("Give the token a name, so you can tell it apart later.", field="name")
    if len(name) > 80:
        raise ServiceError("The name can be at most 80 characters.", field="name")
    if scope not in ApiTokenScope.values:
        raise ServiceError("Choose read or read-write.", field="scope")
    now = timezone.now()
    if expires_at is not None:
        if expires_at <= now:
            raise ServiceError("The expiry date must be in the future.", field="expires_at")
        if expires_at > now + MAX_EXPIRY:
            raise ServiceError("A token can be valid for at most a year.", field="expires_at")
    prefix = secrets.token_hex(4)
    secret = f"{TOKEN_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        # Serialise one person's token creations so the limit holds under concurrency.
        User.objects.select_for_update().filter(pk=user.pk).first()
        if ApiToken.objects.filter(user=user, revoked_at__isnull=True).count() >= MAX_TOKENS_PER_USER:
            raise Conflict(f"You already have {MAX_TOKENS_PER_USER} tokens; revoke one first.", field="name")
        token = ApiToken.objects.create(
            user=user, name=name, prefix=prefix, secret_hash=api_token_hash(secret), scope=scope, expires_at=expires_at
        )
    return CreatedToken(token=token, secret=secret)


def api_token_revoke(*, user: User, token_id: int) -> ApiToken:
    """Revoke one of the person's own tokens (404 for anyone else's); effective on the next request."""
    if not 0 < token_id < 2**63:
        raise NotFound("No such token.")
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().filter(pk=token_id, user=user, revoked_at__isnull=True).first()
        if token is None:
            raise NotFound("No such token.")
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


def api_token_authenticate(*, secret: str, ip: str) -> tuple[User, ApiToken] | None:
    """The active user and token behind a bearer secret, or None (unknown, malformed, revoked,
    expired, or its owner deactivated). Looked up afresh on every request, so a revocation or
    a lost capability applies to the next one. Records the last use (time and IP)."""
    if not TOKEN_RE.match(secret):
        return None
    now = timezone.now()
    # Nobody is known yet: the lookup by hash runs in the system context (the RLS policy
    # otherwise shows a person only their own tokens).
    with db_context(context_for_system("api token authentication")):
        token = ApiToken.objects.filter(secret_hash=api_token_hash(secret)).first()
        if token is None or token.revoked_at is not None or (token.expires_at and token.expires_at <= now):
            return None
        user = User.objects.with_access().filter(pk=token.user_id, is_active=True).first()
        if user is None:
            return None
        ip_value = _ip_or_none(ip)
        if (
            token.last_used_at is None
            or token.last_used_at <= now - LAST_USED_RESOLUTION
            or token.last_used_ip != ip_value
        ):
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now, last_used_ip=ip_value)
            token.last_used_at, token.last_used_ip = now, ip_value
    return user, token


def _ip_or_none(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None
