"""Ending sessions from "Your sessions" and after a password change or reset (the session
index itself is accounts/sessions.py)."""

from __future__ import annotations

from django.http import HttpRequest

from accounts.models import User, UserSession
from accounts.sessions import SID_KEY, sessions_end, sid_hash
from taskforge.errors import NotFound


def sessions_after_password_change(request: HttpRequest, user: User) -> int:
    """A new password ends every other session (the current one continues)."""
    return sessions_end(user.pk, except_sid=request.session.get(SID_KEY), reason="password_changed")


def sessions_after_password_reset(user: User) -> int:
    return sessions_end(user.pk, reason="password_reset")


def session_revoke(*, user: User, session_id: int, current_sid: str | None) -> bool:
    """Sign out one of the user's sessions (404 for someone else's). Returns True if it was the current one."""
    if not 0 < session_id < 2**63:  # the URL takes any digits; the id column is a bigint
        raise NotFound("No such session.")
    row = UserSession.objects.filter(pk=session_id, user=user, ended_at__isnull=True).first()
    if row is None:
        raise NotFound("No such session.")
    sessions_end(user.pk, session_ids=[row.pk], reason="revoked")
    return bool(current_sid) and row.sid_hash == sid_hash(current_sid)


def sessions_revoke_others(*, user: User, current_sid: str | None) -> int:
    return sessions_end(user.pk, except_sid=current_sid, reason="revoked")
