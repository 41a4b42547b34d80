"""Writes to the audit log. Rows themselves are written by PostgreSQL (triggers and
SECURITY DEFINER functions); these wrappers are how Python code asks for them.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connections

from taskforge import pgconn

OPERATIONS = ("INSERT", "UPDATE", "DELETE")
_TABLE_RE = re.compile(r"^[a-z][a-z0-9_]{0,127}$")
SEAL_BATCH = 5000
ARCHIVE_BATCH = 10000


class _AuditEncoder(DjangoJSONEncoder):
    """Dates, UUIDs and decimals as Django does; anything else (ObjectId, ...) as text."""

    def default(self, o: Any) -> Any:
        try:
            return super().default(o)
        except TypeError:
            return str(o)


def _as_json(value: Mapping[str, Any] | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise TypeError(f"audit values must be a mapping or None, not {type(value).__name__}")
    return json.dumps(dict(value), cls=_AuditEncoder)


def audit_content_record(
    *,
    table: str,
    record_id: str | int | uuid.UUID,
    operation: str,
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any] | None,
    using: str = "default",
) -> bool:
    """Audit a change to a MongoDB content document (trip content, task detail, comment, profile).

    Call it inside the service's `transaction.atomic()`, next to `outbox_record(...)`,
    so the audit row commits (or rolls back) with the change it describes. The actor,
    IP, user agent and request id come from the connection context, as for the
    triggers. `table` names the content kind (e.g. "task_detail"); `old`/`new` are the
    document states (None for insert/delete). An UPDATE that changes nothing is not
    recorded; returns whether a row was written.
    """
    op = operation.upper()
    if op not in OPERATIONS:
        raise ValueError(f"operation must be one of {', '.join(OPERATIONS)}, not {operation!r}")
    if not _TABLE_RE.match(table):
        raise ValueError(f"table must be a lower-case identifier, not {table!r}")
    record = str(record_id)
    if not record or len(record) > 128:
        raise ValueError("record_id must be 1 to 128 characters")
    old_json, new_json = _as_json(old), _as_json(new)
    if op == "UPDATE" and old_json is not None and json.loads(old_json) == json.loads(new_json or "null"):
        return False
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT audit_record_content(%s, %s, %s, %s::jsonb, %s::jsonb)", [table, record, op, old_json, new_json]
        )
    return True


def audit_seal_pending(*, limit: int = SEAL_BATCH, wait: bool = False, using: str = "default") -> int:
    """Seal one batch of committed rows into the hash chain.

    Returns how many rows were sealed, or -1 if another sealer holds the lock (and
    `wait` is false). Run it outside a transaction: the sealer's lock lasts until the
    surrounding transaction ends.
    """
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT audit_seal(%s, %s)", [limit, wait])
        return int(cursor.fetchone()[0])


def audit_seal_all(*, batch: int = SEAL_BATCH, max_batches: int = 10_000, using: str = "default") -> int:
    """Seal everything committed so far (on demand: waits for a running sealer)."""
    total = 0
    for _ in range(max_batches):
        sealed = audit_seal_pending(limit=batch, wait=True, using=using)
        total += max(sealed, 0)
        if sealed < batch:
            break
    return total


class OwnerConnectionError(RuntimeError):
    """The owner role (DATABASE_OWNER_URL) could not be reached."""


def owner_connection(*, using: str = "default", application_name: str = "taskforge audit") -> Any:
    """A psycopg connection as the owner role to the database `using` points at.

    Only the owner may run audit_archive() (moving rows out of the live log is not something
    the application role should be able to do), so retention connects as the owner the way
    verify_audit connects as the backup role. Not autocommit: each call runs in its own
    transaction (`with conn.transaction():`).
    """
    import psycopg

    cfg = settings.DATABASE_OWNER
    dbname = connections[using].settings_dict["NAME"]
    try:
        return psycopg.connect(
            **pgconn.connect_kwargs(cfg),
            dbname=dbname,
            connect_timeout=5,
            application_name=application_name,
        )
    except psycopg.Error as exc:
        raise OwnerConnectionError(f"cannot connect as the owner role (DATABASE_OWNER_URL) to {dbname}: {exc}") from exc


def audit_archive_expired(
    *, days: int | None = None, batch: int = ARCHIVE_BATCH, max_batches: int = 100_000, using: str = "default"
) -> int:
    """Move sealed rows older than `days` (default AUDIT_RETENTION_DAYS) into audit_log_archive.

    Seals first so old rows are not held back (as the application role), then moves a
    prefix of the chain in batches, each its own transaction, as the owner role: PUBLIC
    and the application role may not execute audit_archive(). Returns the number moved.
    """
    days = settings.AUDIT_RETENTION_DAYS if days is None else days
    if days < 1:
        raise ValueError("the retention period must be at least one day")
    audit_seal_all(using=using)
    moved = 0
    with owner_connection(using=using, application_name="taskforge audit_retention") as conn:
        for _ in range(max_batches):
            with conn.transaction():
                count = int(conn.execute("SELECT audit_archive(%s, %s)", [days, batch]).fetchone()[0])
            moved += count
            if count < batch:
                break
    return moved
