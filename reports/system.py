"""Figures of the admin System page. Each section degrades to an "unavailable" note on
its own, so one dead dependency never takes the page down.

**Which role reads PostgreSQL's statistics.** `pg_stat_activity` lists every session
to any role, but shows a session's state (and query, wait event...) only to roles with
the privileges of the session's role, or with `pg_read_all_stats`. The owner and backup
roles are no more privileged than the application role here, so querying as one of
them would not help, and a SECURITY DEFINER function helps only if its owner holds
`pg_read_all_stats`, i.e. it must be created by a superuser. So the page queries as the
application role itself: it sees the full state of every application-role session (the
web and worker connection pools, which are what can exhaust `max_connections`), and
counts the sessions of other roles (owner, backup, replication) with their state shown
as "not visible". `GRANT pg_read_all_stats TO <app role>` (as a superuser) makes those
states and the lag columns of `pg_stat_replication` visible too; the page says so.
`pg_stat_database` (cache hit ratio), `pg_replication_slots` and the WAL positions are
readable by every role.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.db import connections

from backups.verify import last_verification
from reports.selectors import StarUnavailable, etl_last_runs, star_alias
from sync.status import outbox_figures
from taskforge.metrics import queue_depths, redis_figures
from taskforge.mongo import documents_db

logger = logging.getLogger(__name__)
MAX_COLLECTIONS = 60


def _section(name: str, fn: Any) -> dict[str, Any]:
    try:
        return {"ok": True, **fn()}
    except Exception as exc:
        logger.warning("system page: %s unavailable", name, exc_info=True)
        return {"ok": False, "error": f"{type(exc).__name__}: {str(exc)[:200]}"}


def _rows(alias: str, sql: str) -> list[dict[str, Any]]:
    with connections[alias].cursor() as cursor:
        cursor.execute(sql)
        columns = [col.name for col in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def postgres_figures() -> dict[str, Any]:
    activity = _rows(
        "default",
        """
        SELECT usename AS role, COALESCE(state, 'not visible') AS state, count(*) AS n
        FROM pg_stat_activity WHERE datname = current_database()
        GROUP BY 1, 2 ORDER BY 1, 2
        """,
    )
    totals = _rows(
        "default",
        """
        SELECT (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend') AS client_connections,
               current_setting('max_connections')::int AS max_connections,
               pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') AS sees_all,
               current_user AS role
        """,
    )[0]
    db = _rows(
        "default",
        """
        SELECT blks_hit, blks_read, xact_commit, xact_rollback, deadlocks, numbackends,
               pg_database_size(current_database()) AS size_bytes
        FROM pg_stat_database WHERE datname = current_database()
        """,
    )[0]
    hit, read = db["blks_hit"] or 0, db["blks_read"] or 0
    return {
        "activity": activity,
        "totals": totals,
        "database": db,
        "cache_hit_ratio": hit / (hit + read) if hit + read else None,
    }


def replication_figures() -> dict[str, Any]:
    in_recovery = _rows("default", "SELECT pg_is_in_recovery() AS r")[0]["r"]
    standbys: list[dict[str, Any]] = []
    slots: list[dict[str, Any]] = []
    if not in_recovery:
        standbys = _rows(
            "default",
            """
            SELECT application_name, client_addr::text AS client_addr, state, sync_state,
                   extract(epoch FROM replay_lag) AS replay_lag_seconds,
                   pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint AS replay_behind_bytes
            FROM pg_stat_replication ORDER BY application_name
            """,
        )
        slots = _rows(
            "default",
            """
            SELECT slot_name, slot_type, active,
                   pg_wal_lsn_diff(pg_current_wal_lsn(), COALESCE(confirmed_flush_lsn, restart_lsn))::bigint
                       AS behind_bytes
            FROM pg_replication_slots ORDER BY slot_name
            """,
        )
    replica: dict[str, Any] | None = None
    if "replica" in settings.DATABASES:
        try:
            replica = _rows(
                "replica",
                """
                SELECT pg_is_in_recovery() AS in_recovery,
                       extract(epoch FROM now() - pg_last_xact_replay_timestamp()) AS replay_delay_seconds
                """,
            )[0]
        except Exception as exc:  # noqa: BLE001 - an unreachable standby is a finding, not an error page
            replica = {"error": f"{type(exc).__name__}: {str(exc)[:200]}"}
    return {
        "in_recovery": in_recovery,
        "standbys": standbys,
        "slots": slots,
        "replica": replica,
        "configured": bool(standbys or slots or replica),
    }


def document_figures() -> dict[str, Any]:
    """Documents per collection of the document store (the `mongodb` alias): count_documents,
    which the server answers from its collection statistics for an empty filter."""
    db = documents_db()
    names = sorted(name for name in db.list_collection_names() if not name.startswith("system."))
    collections = [{"name": name, "count": db[name].count_documents({})} for name in names[:MAX_COLLECTIONS]]
    return {"database": db.name, "collections": collections, "more": max(len(names) - MAX_COLLECTIONS, 0)}


def redis_section() -> dict[str, Any]:
    return redis_figures()


def queue_section() -> dict[str, Any]:
    depths = queue_depths()
    prefix = settings.CELERY_QUEUE_PREFIX
    queues = [{"name": name.removeprefix(prefix) if prefix else name, "depth": depth} for name, depth in depths.items()]
    return {"queues": queues, "broker_down": all(q["depth"] is None for q in queues)}


def outbox_section() -> dict[str, Any]:
    return outbox_figures()


def backup_section() -> dict[str, Any]:
    return last_verification()


def reports_section() -> dict[str, Any]:
    try:
        ok, failed = etl_last_runs()
    except StarUnavailable as exc:
        return {"built": False, "note": str(exc), "alias": star_alias()}
    return {"built": True, "last_ok": ok, "last_failed": failed, "alias": star_alias()}


def system_figures() -> dict[str, dict[str, Any]]:
    return {
        "postgres": _section("postgres", postgres_figures),
        "replication": _section("replication", replication_figures),
        "documents": _section("documents", document_figures),
        "redis": _section("redis", redis_section),
        "queues": _section("queues", queue_section),
        "outbox": _section("outbox", outbox_section),
        "backups": _section("backups", backup_section),
        "reports": _section("reports", reports_section),
    }
