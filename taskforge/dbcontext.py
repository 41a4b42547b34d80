"""Connection context for row-level security and the audit triggers.

The acting user, role, client IP, user agent and request id live in a ContextVar
for the current request, Celery task or management command, and are copied onto
each PostgreSQL connection as `rls.*` settings, which the RLS policies and the
audit triggers read with current_setting(). The context is applied when a
connection is checked out (connection_created fires on every pool checkout) or
straight away when the connection is already open, and cleared when the scope
ends and again by the pool's reset hook, so it never leaks between requests.
"""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass, replace
from typing import Any

from django.db import connections
from django.db.backends.signals import connection_created

CONTEXT_KEYS = ("user_id", "role", "ip", "user_agent", "request_id")


@dataclass(frozen=True)
class DbContext:
    """Who is acting, as the database sees it. Empty strings mean 'unknown'."""

    user_id: str = ""
    role: str = ""
    ip: str = ""
    user_agent: str = ""
    request_id: str = ""

    def as_headers(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_headers(cls, data: dict[str, Any] | None) -> DbContext:
        data = data or {}
        return cls(**{key: str(data.get(key) or "") for key in CONTEXT_KEYS})


EMPTY = DbContext()
_current: ContextVar[DbContext] = ContextVar("taskforge_db_context", default=EMPTY)

_SET_SQL = "SELECT " + ", ".join(f"set_config('rls.{key}', %s, false)" for key in CONTEXT_KEYS)
_CLEAR_SQL = "SELECT " + ", ".join(f"set_config('rls.{key}', '', false)" for key in CONTEXT_KEYS)


def context_current() -> DbContext:
    return _current.get()


def _values(ctx: DbContext) -> list[str]:
    # user agents can be long; the audit column keeps 512 characters
    return [ctx.user_id, ctx.role, ctx.ip, ctx.user_agent[:512], ctx.request_id]


def _apply_to_open_connections(ctx: DbContext) -> None:
    for conn in connections.all(initialized_only=True):
        if conn.vendor == "postgresql" and conn.connection is not None:
            try:
                with conn.cursor() as cursor:
                    cursor.execute(_SET_SQL, _values(ctx))
            except Exception:  # noqa: BLE001
                # A connection that cannot take the context must not be used with an old
                # one: close it; the next query reconnects and gets the context on checkout.
                _close_quietly(conn)


def _close_quietly(conn: Any) -> None:
    try:
        conn.close()
    except Exception:  # noqa: BLE001 - already broken
        conn.connection = None


def context_set(ctx: DbContext) -> object:
    """Make ctx current and push it onto any open connection. Returns a reset token."""
    token = _current.set(ctx)
    _apply_to_open_connections(ctx)
    return token


def context_reset(token: object) -> None:
    """Restore the previous context (normally empty) on the ContextVar and open connections."""
    _current.reset(token)  # type: ignore[arg-type]
    ctx = _current.get()
    for conn in connections.all(initialized_only=True):
        if conn.vendor != "postgresql" or conn.connection is None:
            continue
        try:
            with conn.cursor() as cursor:
                if ctx == EMPTY:
                    cursor.execute(_CLEAR_SQL)
                else:
                    cursor.execute(_SET_SQL, _values(ctx))
        except Exception:  # noqa: BLE001
            # A broken connection cannot carry context; make sure it is not reused.
            _close_quietly(conn)


@contextmanager
def db_context(ctx: DbContext) -> Iterator[DbContext]:
    token = context_set(ctx)
    try:
        yield ctx
    finally:
        context_reset(token)


# Roles the context may carry (see taskforge/rls.py): a person's capabilities are looked up
# in the database by their user id, never taken from the context.
ROLE_USER = "user"
ROLE_SYSTEM = "system"
ROLE_OPERATOR = "operator"


def context_for_user(user: Any, **extra: str) -> DbContext:
    """Context for a Django user (anonymous users get an empty identity)."""
    if user is None or not user.is_authenticated:
        return replace(EMPTY, **extra)
    return DbContext(user_id=str(user.pk), role=ROLE_USER, **extra)


def context_for_system(name: str, **extra: str) -> DbContext:
    """Trusted background work with no person behind it (relay, scheduled jobs, seeding)."""
    return DbContext(role=ROLE_SYSTEM, user_agent=name, **extra)


def context_for_command(name: str) -> DbContext:
    """Management commands act as 'operator' (sees no protected rows) and record the OS user."""
    try:
        os_user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no passwd entry in some containers
        os_user = "unknown"
    return DbContext(role=ROLE_OPERATOR, user_agent=f"manage.py {name} (os user {os_user})")


def _on_connection_created(sender: Any, connection: Any, **kwargs: Any) -> None:
    if connection.vendor != "postgresql":
        return
    ctx = _current.get()
    if ctx == EMPTY:
        return  # a new connection, or one the pool's reset hook cleared: nothing to undo
    with connection.cursor() as cursor:
        cursor.execute(_SET_SQL, _values(ctx))


connection_created.connect(_on_connection_created, dispatch_uid="taskforge_db_context")


def pool_reset(conn: Any) -> None:
    """psycopg_pool reset hook: a connection goes back to the pool with no context."""
    conn.execute(_CLEAR_SQL)
