"""Who may open and keep a stream (synchronous; the views call it through sync_to_async).

The person comes from the site's session cookie, with the same rules as a page request:
Django's session and auth hash, an active account, a session still in the session index
(not signed out or revoked elsewhere) and within its idle and absolute lifetimes. A board
stream also needs task.view in the team (accounts.permissions, the one check)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from importlib import import_module

from django.conf import settings
from django.contrib import auth
from django.db import connections
from django.http import HttpRequest

from accounts.permissions import permission_has, permission_holders
from accounts.sessions import SID_KEY, session_expired, session_is_active
from taskforge.dbcontext import context_for_system, context_for_user, db_context


class Verdict(enum.Enum):
    OK = "ok"
    SIGNED_OUT = "signed_out"  # no session, an ended or expired one, an inactive account
    NOT_FOUND = "not_found"  # a team the person is not (or no longer) allowed to see


@dataclass(frozen=True)
class Access:
    verdict: Verdict
    user_id: int | None = None


def _close_connections() -> None:
    for conn in connections.all(initialized_only=True):
        if conn.vendor == "postgresql":
            conn.close()  # back to the pool: a thread of the shared executor keeps none


def team_viewers(team_id: int) -> frozenset[int]:
    """Who may see the team's board now (task.view): one query for every open stream of the team."""
    try:
        with db_context(context_for_system("live events")):
            return permission_holders(team_id, "task.view")
    finally:
        _close_connections()


def stream_access(session_key: str | None, team_id: int | None) -> Access:
    """May the holder of this session cookie watch the team's board (or only their own channel,
    for team_id None)? Runs in a worker thread and gives its database connections back."""
    try:
        return _access(session_key, team_id)
    finally:
        _close_connections()


def _access(session_key: str | None, team_id: int | None) -> Access:
    if not session_key:
        return Access(Verdict.SIGNED_OUT)
    engine = import_module(settings.SESSION_ENGINE)
    request = HttpRequest()
    request.session = engine.SessionStore(session_key)
    user = auth.get_user(request)
    if not user.is_authenticated or not user.is_active:
        return Access(Verdict.SIGNED_OUT)
    sid = request.session.get(SID_KEY)
    if not sid or session_expired(request):
        return Access(Verdict.SIGNED_OUT)
    with db_context(context_for_user(user, user_agent="live events")):
        if not session_is_active(user.pk, sid):
            return Access(Verdict.SIGNED_OUT)
        if team_id is not None and not permission_has(user, team_id, "task.view"):
            return Access(Verdict.NOT_FOUND, user.pk)
    return Access(Verdict.OK, user.pk)
