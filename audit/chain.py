"""Tamper evidence for the audit log: a hash chain sealed by a job, verified end to end.

Design choice: seal shortly after insert, not at insert
--------------------------------------------------------
Computing the chain at insert time needs "the previous row's hash" inside every
audited transaction. Taking it correctly means one global lock (or a serialisable
retry loop) held by every audited write until it commits: every booking, task edit
and login of the site would queue behind one row. Audited writes must not serialise
the site, so the triggers only INSERT (no lock beyond their own row), and a sealer
links rows into the chain a few seconds later:

* `audit_seal()` (SQL, SECURITY DEFINER, owner) takes a transaction advisory lock
  that only sealers use, reads the chain head, and walks the committed, unsealed
  rows in id order, giving each the next `seal_seq`,
  `content_hash = sha256(canonical(row))` and
  `row_hash = sha256(previous row_hash || "\\n" || content_hash)`.
* The chain is ordered by **seal order** (`seal_seq`), not by id. Ids come from a
  sequence and are handed out before commit, so a transaction that started earlier
  can commit after later ids were already sealed. Such a row is simply sealed by a
  later run, with a later `seal_seq`: nothing is ever inserted "below" the sealed
  frontier, no grace period is needed, and no row can be skipped (the sealer takes
  every unsealed row it can see). A unique index on `seal_seq` makes a fork
  impossible even if two sealers ever ran at once.
* The Celery beat task `audit.seal` seals every few seconds; `verify_audit` and the
  retention job seal on demand first. The application role cannot UPDATE audit_log;
  it may only call the function.
* `audit_chain_head` holds the last sealed position and hash, so cutting rows off the
  end (or archiving every row) still leaves something to check against.
* Erasure (accounts' pseudonymisation of a deleted person) must rewrite personal data
  in sealed rows. The two-level hash keeps the links verifiable: a trigger
  (`audit_guard`) allows that rewrite only to the personal-data columns and only in
  the privileged function, and stamps `redacted_at`; the verifier then checks the
  row's links but not its (erased) content, and reports how many rows were redacted.
  Any other change to a sealed row is refused by the trigger, and if the trigger is
  dropped first, the chain shows it.

Window of exposure: a row can be altered by the owner in the seconds before it is
sealed. Past that, changing, deleting or reordering any sealed row — in the live
table or the archive — breaks the chain at that row. An owner who rewrites every
hash from some row onwards *and* the head is only caught by comparing the head hash
with a copy kept elsewhere: `verify_audit` prints it for that purpose.

Verification (`verify_chain`) reads as the backup role (BYPASSRLS, read-only) in one
REPEATABLE READ snapshot, walks audit_log_archive then audit_log by seal_seq as one
sequence, recomputes each hash in Python from the stored columns, and reports the
first row that does not match.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg
from django.conf import settings
from django.db import connections

from taskforge import pgconn

GENESIS = "0" * 64
SOURCES = ("audit_log_archive", "audit_log")

# Columns as the hash sees them. jsonb and inet come back as the database prints them,
# which is canonical for a given value; everything else is formatted here.
_SELECT = """
    SELECT seal_seq, id, table_name, record_id, operation, old_values::text, new_values::text, user_id,
           actor_role, host(ip_address), user_agent, request_id, created_at, content_hash, row_hash, redacted_at
    FROM {table} WHERE seal_seq IS NOT NULL ORDER BY seal_seq
"""


class ChainReaderError(RuntimeError):
    """The verifier could not read the log (connection or permissions)."""


def canonical(values: list[str | None]) -> str:
    """Length-prefixed fields joined by '|'; None is '~'. Mirrors SQL audit_canonical()."""
    return "|".join("~" if value is None else f"{len(value)}:{value}" for value in values)


def row_canonical(row: tuple[Any, ...]) -> str:
    (seq, row_id, table, record, op, old, new, user_id, role, ip, agent, request_id, created) = row[:13]
    created_utc = created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return canonical(
        [
            str(seq),
            str(row_id),
            table,
            record,
            op,
            old,
            new,
            None if user_id is None else str(user_id),
            role,
            ip,
            agent,
            request_id,
            created_utc,
        ]
    )


def content_hash(canonical_text: str) -> str:
    return hashlib.sha256(canonical_text.encode()).hexdigest()


def link_hash(previous: str, content: str) -> str:
    return hashlib.sha256(f"{previous}\n{content}".encode()).hexdigest()


@dataclass
class ChainBreak:
    """The first place where the chain does not hold."""

    source: str
    reason: str
    seal_seq: int | None = None
    row_id: int | None = None
    table_name: str = ""
    record_id: str = ""

    def describe(self) -> str:
        where = self.source
        if self.row_id is not None:
            where += f" row id {self.row_id} (seal_seq {self.seal_seq}, {self.table_name} #{self.record_id})"
        elif self.seal_seq is not None:
            where += f" at seal_seq {self.seal_seq}"
        return f"{where}: {self.reason}"


@dataclass
class ChainReport:
    """What a verification run saw."""

    checked: int = 0
    per_source: dict[str, int] = field(default_factory=dict)
    head_seq: int | None = None
    head_hash: str | None = None
    last_hash: str = GENESIS
    unsealed: int = 0
    redacted: int = 0
    oldest_unsealed: datetime | None = None
    broken: ChainBreak | None = None

    @property
    def ok(self) -> bool:
        return self.broken is None


def reader_connection() -> psycopg.Connection:
    """A read-only connection that sees every audit row: the backup role (BYPASSRLS).

    It targets the database the application uses (settings.DATABASES["default"]
    NAME), so tests verify their own test database.
    """
    cfg = settings.DATABASE_BACKUP
    dbname = connections["default"].settings_dict["NAME"]
    try:
        conn = psycopg.connect(
            **pgconn.connect_kwargs(cfg),
            dbname=dbname,
            connect_timeout=5,
            application_name="taskforge verify_audit",
        )
    except psycopg.Error as exc:
        raise ChainReaderError(f"cannot connect as the backup role (DATABASE_BACKUP_URL) to {dbname}: {exc}") from exc
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    conn.read_only = True
    return conn


def _rows(conn: psycopg.Connection, table: str, batch: int) -> Iterator[tuple[Any, ...]]:
    with conn.cursor(name=f"verify_{table}") as cursor:
        cursor.itersize = batch
        cursor.execute(_SELECT.format(table=table))
        yield from cursor


def verify_chain(*, conn: psycopg.Connection | None = None, batch: int = 2000) -> ChainReport:
    """Walk archive then live by seal_seq; stop at the first break."""
    own = conn is None
    conn = conn or reader_connection()
    report = ChainReport()
    try:
        with conn.transaction():  # one snapshot for archive, live and head
            report = _walk(conn, batch)
    except psycopg.Error as exc:
        raise ChainReaderError(f"reading the audit log failed: {exc}") from exc
    finally:
        if own:
            conn.close()
    return report


def _walk(conn: psycopg.Connection, batch: int) -> ChainReport:
    report = ChainReport()
    previous = GENESIS
    expected = 1
    for source in SOURCES:
        report.per_source[source] = 0
        for row in _rows(conn, source, batch):
            seq, row_id, table, record = row[0], row[1], row[2], row[3]
            stored_content, stored, redacted_at = row[13], row[14], row[15]
            if seq != expected:
                reason = (
                    f"seal_seq {expected}..{seq - 1} missing before this row (rows deleted, or unsealed by hand)"
                    if seq > expected
                    else f"seal_seq {seq} appears twice (expected {expected})"
                )
                report.broken = ChainBreak(source, reason, seq, row_id, table, record)
                return report
            if redacted_at is None:
                computed_content = content_hash(row_canonical(row))
                if computed_content != stored_content:
                    report.broken = ChainBreak(
                        source,
                        f"hash mismatch: the row's content was changed after sealing "
                        f"(content hash stored {str(stored_content)[:16]}…, recomputed {computed_content[:16]}…)",
                        seq,
                        row_id,
                        table,
                        record,
                    )
                    return report
            else:
                # Personal data erased by the privileged pseudonymisation: the content
                # cannot be re-hashed any more, its recorded hash still has to link.
                report.redacted += 1
            computed = link_hash(previous, str(stored_content))
            if computed != stored:
                report.broken = ChainBreak(
                    source,
                    f"hash mismatch: the row's hashes were changed after sealing "
                    f"(stored {str(stored)[:16]}…, recomputed {computed[:16]}…)",
                    seq,
                    row_id,
                    table,
                    record,
                )
                return report
            previous = stored
            expected += 1
            report.per_source[source] += 1
            report.checked += 1
    report.last_hash = previous
    with conn.cursor() as cursor:
        cursor.execute("SELECT seal_seq, row_hash FROM audit_chain_head WHERE id = 1")
        head = cursor.fetchone()
        cursor.execute("SELECT count(*), min(created_at) FROM audit_log WHERE seal_seq IS NULL")
        report.unsealed, report.oldest_unsealed = cursor.fetchone()
    last = expected - 1
    if head is None:
        if last:
            report.broken = ChainBreak("audit_chain_head", f"the chain head row is missing (chain has {last} rows)")
        return report
    report.head_seq, report.head_hash = head
    if report.head_seq != last:
        reason = (
            f"the head says the chain ends at seal_seq {report.head_seq} but the last row found is {last}: "
            "rows were removed from the end"
            if report.head_seq > last
            else f"the head (seal_seq {report.head_seq}) is behind the last row ({last})"
        )
        report.broken = ChainBreak("audit_chain_head", reason, seal_seq=report.head_seq)
    elif report.head_hash != previous:
        report.broken = ChainBreak(
            "audit_chain_head", "the head hash does not match the last row's hash", seal_seq=report.head_seq
        )
    return report
