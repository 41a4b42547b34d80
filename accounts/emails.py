"""Account emails: verification, password reset, invitations, "you already have an account".

They go through mail.delivery.mail_queue (an EmailDelivery row in the caller's
transaction, sent once by a worker after commit). The idempotency keys hold a hash of
the one-time token, never the token itself.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings

from mail.delivery import mail_queue


def _abs(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def verification_email(*, user_id: int, name: str, verify_path: str) -> Any:
    return mail_queue(
        kind="verify_email",
        to_user_id=user_id,
        context={"verify_url": _abs(verify_path), "name": name},
        idempotency_key=f"accounts:verify:{user_id}:{_digest(verify_path)}",
    )


def password_reset_email(*, user_id: int, name: str, reset_path: str) -> Any:
    return mail_queue(
        kind="password_reset",
        to_user_id=user_id,
        context={
            "reset_url": _abs(reset_path),
            "name": name,
            "valid_hours": max(1, settings.PASSWORD_RESET_TIMEOUT // 3600),
        },
        idempotency_key=f"accounts:reset:{user_id}:{_digest(reset_path)}",
    )


def invitation_email(
    *, invitation_id: int, email: str, team_name: str, inviter_name: str, role: str, accept_path: str, expires_at: str
) -> Any:
    return mail_queue(
        kind="invitation",
        to_email=email,
        context={
            "team_name": team_name,
            "accept_url": _abs(accept_path),
            "inviter_name": inviter_name,
            "role": role,
            "expires_at": expires_at,
        },
        idempotency_key=f"accounts:invitation:{invitation_id}",
    )


def account_exists_email(*, user_id: int, nonce: str) -> Any:
    # Registration with a taken address answers like a success (no account enumeration)
    # and tells the owner instead.
    return mail_queue(
        kind="account_exists",
        to_user_id=user_id,
        context={
            "summary": "Someone tried to register a new account with this email address. You already "
            "have one: sign in, or reset your password if you forgot it.",
            "url": _abs("/accounts/login/"),
        },
        idempotency_key=f"accounts:exists:{user_id}:{nonce}",
    )
