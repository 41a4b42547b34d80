"""Shared helpers of the audit tests: direct connections as the owner and app roles."""

from __future__ import annotations

from typing import Any

import psycopg
from django.conf import settings
from django.db import connections


def database_name() -> str:
    return connections["default"].settings_dict["NAME"]


def _connect(cfg: dict[str, Any], **kwargs: Any) -> psycopg.Connection:
    return psycopg.connect(
        host=cfg.get("HOST") or None,
        port=cfg.get("PORT") or None,
        user=cfg["USER"],
        password=cfg.get("PASSWORD") or None,
        dbname=database_name(),
        **kwargs,
    )


def owner_connection(**kwargs: Any) -> psycopg.Connection:
    """The owner role (migrations): what a rogue DBA or a stolen owner password can do."""
    kwargs.setdefault("autocommit", True)
    return _connect(settings.DATABASE_OWNER, **kwargs)


def app_connection(**kwargs: Any) -> psycopg.Connection:
    """A second application-role connection (for concurrent transactions)."""
    return _connect(connections["default"].settings_dict, **kwargs)


def set_context(conn: psycopg.Connection, *, user_id: str = "", role: str = "", request_id: str = "") -> None:
    conn.execute(
        "SELECT set_config('rls.user_id', %s, false), set_config('rls.role', %s, false), "
        "set_config('rls.request_id', %s, false)",
        [user_id, role, request_id],
    )


def owner_scalar(sql: str, params: list | None = None) -> Any:
    with owner_connection() as conn:
        row = conn.execute(sql, params or []).fetchone()
        return row[0] if row else None


def tamper(sql: str, params: list | None = None, table: str = "audit_log") -> int:
    """As the owner, with the guard trigger switched off for the statement (what a determined DBA would do)."""
    with owner_connection(autocommit=False) as conn:
        conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER audit_guard")
        count = conn.execute(sql, params or []).rowcount
        conn.execute(f"ALTER TABLE {table} ENABLE TRIGGER audit_guard")
        conn.commit()
        return count
