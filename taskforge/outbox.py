"""Transactional outbox: record events with the PostgreSQL change, apply them to MongoDB
(and to PostgreSQL search projections) through a relay, and find and repair drift.

Recording (in a service, inside its transaction)
------------------------------------------------

    with transaction.atomic():
        task.save()
        outbox_record(aggregate_type="task", aggregate_id=str(task.id), version=task.version,
                      event_type="task.upserted", payload={...full document state at this version...})

The event row commits or rolls back with the change. The payload is the *full* state at
that version, so applying events late, twice or out of order is safe. A delete is a
versioned tombstone (a higher version with `deleted: True`), never a physical delete in
a handler, so a late older event cannot bring the entity back.

Applying (in `<app>/sync.py`, auto-imported at start-up)
---------------------------------------------------------

    @outbox_handler("task")
    def task_apply(event: OutboxEvent) -> None:      # must be idempotent; don't event.save()
        mongo_upsert_versioned(details(), event.aggregate_id, event.version, fields)
        projection_upsert_versioned(TaskSearch, int(event.aggregate_id), event.version, {...})

    @outbox_batch_handler("task")                    # optional, for catch-up throughput
    def task_apply_many(events: list[OutboxEvent]) -> None:
        mongo_upsert_versioned_many(details(), [(e.aggregate_id, e.version, fields(e)) for e in events])

Helpers: `mongo_upsert_versioned` / `mongo_upsert_versioned_many` write only when the
stored version is older; `mongo_tombstone_versioned` writes a delete marker;
`projection_upsert_versioned(_many)` is the same for a PostgreSQL projection table
(INSERT ... ON CONFLICT DO UPDATE ... WHERE version is older). Readers skip documents
and projection rows marked `deleted`. A handler's own PostgreSQL writes should sit in their
own `transaction.atomic()` block; they run with synchronous_commit=off like all relay
writes (see _relay_session), which is safe because a handler only writes what its event
can write again.

A handler that raises leaves the event pending with exponential backoff (1, 2, 4 ... s,
capped by OUTBOX_BACKOFF_MAX_SECONDS); after OUTBOX_MAX_ATTEMPTS it becomes a dead letter
with the last error kept (`manage.py sync_retry` puts dead letters back). A handler that
finds its store unreachable (pymongo ConnectionFailure, or `raise OutboxRetryLater`) does
not use up an attempt: the relay releases the rest of its batch and pauses that process
for a few seconds, so an outage of any length never dead-letters anything.

Handlers and reconcilers run under RELAY_CONTEXT (role admin, no user), wherever they
run, so row-level security lets them see and write what they must.

The relay
---------

* Fast path: after commit the new event is applied at once, in the committing process
  (OUTBOX_FAST_PATH=inline, default: the next page already shows the change), or by the
  `sync.relay_event` Celery job (=celery: a transient message that makes a worker run one
  relay batch, which picks up this event and whatever else is due, so a busy relay
  applies in batches), or not at all (=off).
* Guarantee: beat runs `sync.relay_sweep` every 5 s. A sweep claims a batch of due events
  with one short statement (UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED)):
  the claim sets `locked_by` to a fresh token and moves `next_attempt_at` forward by the
  lease (OUTBOX_LEASE_SECONDS). No transaction stays open while the handlers run, so no
  row lock is held during MongoDB calls. Concurrent relays never claim the same event
  (SKIP LOCKED + the lease); results are written back per chunk of APPLY_CHUNK events,
  only where `locked_by` still holds this claim's token (an applied event keeps the token
  of the relay that applied it: host:pid:nonce). A relay stops applying new chunks once
  half its lease has gone and releases the rest, so an event is applied by two relays
  only if a single handler call outlives half a lease. A relay that is SIGKILLed leaves its events
  claimed; they are due again when the lease ends (and a claim that keeps getting lost
  ends as a dead letter, so a poison event that kills workers cannot loop forever).
  A sweep keeps claiming batches for up to OUTBOX_SWEEP_SECONDS, then queues a follow-up
  sweep if a backlog remains, so every idle worker joins a catch-up.
* Lag is recorded per event: `lag_ms` = applied_at - created_at, both from the database
  clock; created_at is the INSERT's statement time inside the writing transaction (true
  commit timestamps need track_commit_timestamp), so lag includes the rest of that short
  transaction.

Reconciliation: registering a reconciler
----------------------------------------

`manage.py sync_reconcile [--fix] [--type T]` (and the hourly beat job
`sync.reconcile_report`, report-only) runs every registered reconciler. Each app
registers one per aggregate type in its `sync.py`. Declarative form, for the common
shape "PostgreSQL row with a version -> MongoDB document {_id, version, deleted?} ->
optional projection row {key, version, deleted?}":

    @outbox_reconciler("task")
    class TaskReconciler(Reconciler):
        source_model = Task                    # rows: (pk, version); override source() for a filter
        document_collection = "task_details"   # None if the aggregate has no MongoDB document
        document_id = str                      # str(pk) -> MongoDB _id (int for integer _ids)
        projection_model = TaskSearch          # None if there is no projection
        projection_deleted_field = "deleted"   # tombstone column, or None

        def reemit(self, ids: list[str]) -> int:
            # Record a fresh outbox event with the CURRENT state of each id (own transaction).
            ...
            return count

Override `source(ids)`, `documents(ids)`, `projection(ids)` (each yields
`(id: str, version: int)`, and documents/projection `(id, version, deleted)`, limited to
`ids` when given), `document_delete(ids)`, `projection_delete(ids)` for other shapes, or
override `run(fix=...)` entirely. A plain function `f(*, repair: bool) -> dict` may also be
registered (`outbox_reconciler("trip")(trip_reconcile)`): its dict ("checked", "drift",
"repaired", ...) is reported as is.

The generic `run` compares versions (not content): **missing** = source row with no
document/projection row; **orphaned** = live document/projection row whose source row is
gone; **stale** = versions differ, or a tombstone where the source row exists. Ids with
a pending event are "in flight" and skipped; candidates are read a second time before
being reported, so writes during the scan are not reported as drift. `--fix`: stale rows
that are *ahead* of the source (or tombstones) are deleted first, then missing and stale
ids are re-emitted through `reemit`, orphans are deleted, and the relay is run once.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import random
import socket
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection, models, transaction
from pymongo import UpdateOne
from pymongo.errors import BulkWriteError, ConnectionFailure, DuplicateKeyError

from taskforge.dbcontext import DbContext, db_context
from taskforge.models import OutboxEvent, OutboxStatus

logger = logging.getLogger(__name__)

Handler = Callable[[OutboxEvent], None]
BatchHandler = Callable[[list[OutboxEvent]], None]
_HANDLERS: dict[str, Handler] = {}
_BATCH_HANDLERS: dict[str, BatchHandler] = {}

# The relay and the reconcilers act as the system: the admin role, no user.
RELAY_CONTEXT = DbContext(role="system", user_agent="taskforge outbox relay")

# After a store-unavailable error this process leaves MongoDB alone for a moment, so a
# request's fast path or a sweep does not wait for a server-selection timeout each time.
UNAVAILABLE_PAUSE_SECONDS = 3.0
_unavailable_until = 0.0


class OutboxRetryLater(Exception):  # noqa: N818 - reads as an instruction at the raise site
    """Raise from a handler when a store is unreachable: retried later without using an attempt."""


TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (ConnectionFailure, OutboxRetryLater)


# --- registration -----------------------------------------------------------------------


def outbox_handler(aggregate_type: str) -> Callable[[Handler], Handler]:
    """Register the idempotent applier of one aggregate type (decorator)."""

    def register(func: Handler) -> Handler:
        previous = _HANDLERS.get(aggregate_type)
        if previous is not None and previous is not func:
            logger.warning("outbox handler for %r replaced by %s", aggregate_type, func.__qualname__)
        _HANDLERS[aggregate_type] = func
        return func

    return register


def outbox_batch_handler(aggregate_type: str) -> Callable[[BatchHandler], BatchHandler]:
    """Register an optional batch applier (e.g. one bulk_write) for one aggregate type.

    It must have the same effect as calling the single handler on each event. If it raises
    (other than a store-unavailable error), the relay falls back to the single handler per
    event, so one bad event fails alone.
    """

    def register(func: BatchHandler) -> BatchHandler:
        _BATCH_HANDLERS[aggregate_type] = func
        return func

    return register


def outbox_handlers() -> dict[str, Handler]:
    return dict(_HANDLERS)


# --- recording --------------------------------------------------------------------------


def outbox_record(
    *,
    aggregate_type: str,
    aggregate_id: str,
    version: int,
    event_type: str,
    payload: dict[str, Any],
    fast_path: bool = True,
) -> OutboxEvent:
    """Write an outbox event in the caller's transaction; apply it right after commit."""
    if aggregate_type not in _HANDLERS:
        raise LookupError(f"no outbox handler registered for {aggregate_type!r}")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f"outbox version must be a positive integer, not {version!r}")
    aggregate_id = str(aggregate_id)
    if not aggregate_id or len(aggregate_id) > 64:
        raise ValueError("outbox aggregate_id must be 1 to 64 characters")
    if not transaction.get_connection().in_atomic_block:
        # The event must commit with the change it describes; without a transaction a
        # crash between the two loses the event (sync_reconcile would find the drift).
        logger.error("outbox_record(%s:%s) called outside transaction.atomic()", aggregate_type, aggregate_id)
    event = OutboxEvent.objects.create(
        aggregate_type=aggregate_type,
        aggregate_id=aggregate_id,
        version=version,
        event_type=event_type,
        payload=payload,
    )
    if fast_path:
        _fast_path(event.id)
    return event


def _fast_path(event_id: int) -> None:
    mode = settings.OUTBOX_FAST_PATH
    if mode == "inline":
        transaction.on_commit(lambda: relay_apply_ids([event_id]))
    elif mode == "celery":
        transaction.on_commit(lambda: _kick_relay([event_id]))


def _kick_relay(event_ids: list[int]) -> None:
    """Queue `sync.relay_event` as a transient message: losing it costs nothing (the sweep
    guarantees delivery), and RabbitMQ confirms it without a disk write."""
    from taskforge.jobs import relay_event

    try:
        relay_event.apply_async(args=[event_ids], delivery_mode=1)
    except Exception:  # noqa: BLE001 - broker down: the sweep catches up
        logger.warning("could not queue sync.relay_event; the sweep will apply %s", event_ids, exc_info=True)


# --- the relay --------------------------------------------------------------------------


@dataclass
class RelayResult:
    """What one relay pass did."""

    claimed: int = 0
    applied: int = 0
    failed: int = 0
    dead: int = 0
    released: int = 0
    unavailable: bool = False
    backlog: bool = False  # stopped with due events left (time budget)

    def add(self, other: RelayResult) -> None:
        for name in ("claimed", "applied", "failed", "dead", "released"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.unavailable = self.unavailable or other.unavailable


def store_unavailable() -> bool:
    """True while this process is pausing after a store-unavailable error."""
    return time.monotonic() < _unavailable_until


def _pause_after_unavailable() -> None:
    global _unavailable_until
    _unavailable_until = time.monotonic() + UNAVAILABLE_PAUSE_SECONDS


def _claim_token() -> str:
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


_CLAIM_SQL = """
WITH due AS (
    SELECT id FROM outbox_event
    WHERE status = 'pending' AND next_attempt_at <= statement_timestamp() {only}
    ORDER BY next_attempt_at, id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
UPDATE outbox_event AS e
SET attempts = e.attempts + 1,
    locked_by = %(token)s,
    next_attempt_at = statement_timestamp() + make_interval(secs => %(lease)s)
FROM due
WHERE e.id = due.id
RETURNING e.id, e.aggregate_type, e.aggregate_id, e.version, e.event_type, e.payload,
          e.created_at, e.attempts, e.last_error
"""


def _claim(limit: int, ids: Sequence[int] | None = None) -> tuple[list[OutboxEvent], str]:
    """Claim up to `limit` due events (one short autocommit statement). Returns (events, token)."""
    token = _claim_token()
    params: dict[str, Any] = {"limit": limit, "token": token, "lease": float(settings.OUTBOX_LEASE_SECONDS)}
    only = ""
    if ids is not None:
        only = "AND id = ANY(%(ids)s)"
        params["ids"] = [int(i) for i in ids]
    with connection.cursor() as cursor:
        cursor.execute(_CLAIM_SQL.format(only=only), params)
        rows = cursor.fetchall()
    events = []
    for event_id, atype, aid, version, etype, payload, created_at, attempts, last_error in sorted(rows):
        if isinstance(payload, str | bytes):
            payload = json.loads(payload)
        events.append(
            OutboxEvent(
                id=event_id,
                aggregate_type=atype,
                aggregate_id=aid,
                version=version,
                event_type=etype,
                payload=payload,
                created_at=created_at,
                attempts=attempts,
                last_error=last_error,
                status=OutboxStatus.PENDING,
                locked_by=token,
            )
        )
    return events, token


def _backoff_seconds(attempts: int) -> float:
    base = min(2.0 ** max(attempts - 1, 0), float(settings.OUTBOX_BACKOFF_MAX_SECONDS))
    return base * random.uniform(0.8, 1.2)  # jitter: retries of one burst don't arrive together


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]


def _mark_applied(ids: list[int], token: str) -> None:
    if not ids:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE outbox_event
            SET status = 'applied', applied_at = clock_timestamp(),
                lag_ms = LEAST(GREATEST((EXTRACT(EPOCH FROM clock_timestamp() - created_at) * 1000)::bigint, 0),
                               2147483647)
            WHERE id = ANY(%s) AND locked_by = %s AND status = 'pending'
            """,
            [ids, token],
        )


def _mark_failed(event: OutboxEvent, error: str, token: str) -> bool:
    """Record a failed attempt; returns True when the event became a dead letter."""
    dead = event.attempts >= settings.OUTBOX_MAX_ATTEMPTS
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE outbox_event
            SET last_error = %s, locked_by = '', status = %s,
                next_attempt_at = statement_timestamp() + make_interval(secs => %s)
            WHERE id = %s AND locked_by = %s AND status = 'pending'
            """,
            [
                error,
                OutboxStatus.DEAD if dead else OutboxStatus.PENDING,
                0.0 if dead else _backoff_seconds(event.attempts),
                event.id,
                token,
            ],
        )
    if dead:
        logger.error(
            "outbox event %s (%s) is a dead letter after %s attempts: %s", event.id, event, event.attempts, error
        )
    else:
        logger.warning("outbox event %s (%s) failed (attempt %s): %s", event.id, event, event.attempts, error)
    return dead


def _release(ids: list[int], token: str, *, delay: float = 0.0, error: str = "") -> None:
    """Give claimed events back without using up an attempt."""
    if not ids:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE outbox_event
            SET attempts = GREATEST(attempts - 1, 0), locked_by = '',
                next_attempt_at = statement_timestamp() + make_interval(secs => %s),
                last_error = CASE WHEN %s = '' THEN last_error ELSE %s END
            WHERE id = ANY(%s) AND locked_by = %s AND status = 'pending'
            """,
            [delay, error, error, ids, token],
        )


def _mark_lost(events: list[OutboxEvent], token: str) -> None:
    with connection.cursor() as cursor:
        for event in events:
            error = (
                f"claimed {event.attempts - 1} times without a result (relay worker lost?); "
                f"last error: {event.last_error or '-'}"
            )[:2000]
            cursor.execute(
                "UPDATE outbox_event SET status = 'dead', locked_by = '', last_error = %s "
                "WHERE id = %s AND locked_by = %s AND status = 'pending'",
                [error, event.id, token],
            )
            logger.error("outbox event %s (%s) is a dead letter: %s", event.id, event, error)


# Claimed events are applied in chunks; each chunk's results are written back at once,
# and the lease deadline is checked between chunks.
APPLY_CHUNK = 100


def _process(events: list[OutboxEvent], token: str, claimed_at: float) -> RelayResult:
    """Apply claimed events (no transaction open), writing the outcomes back chunk by chunk."""
    result = RelayResult(claimed=len(events))
    deadline = claimed_at + settings.OUTBOX_LEASE_SECONDS / 2
    lost = [e for e in events if e.attempts > settings.OUTBOX_MAX_ATTEMPTS]
    groups: dict[str, list[OutboxEvent]] = {}
    for event in events:
        if event.attempts <= settings.OUTBOX_MAX_ATTEMPTS:
            groups.setdefault(event.aggregate_type, []).append(event)
    chunks = [
        (aggregate_type, group[start : start + APPLY_CHUNK])
        for aggregate_type, group in groups.items()
        for start in range(0, len(group), APPLY_CHUNK)
    ]
    release: list[int] = []
    unavailable_error = ""
    for aggregate_type, chunk in chunks:
        if unavailable_error or time.monotonic() > deadline:
            release.extend(e.id for e in chunk)
            continue
        applied, failures, unavailable_error, rest = _apply_chunk(aggregate_type, chunk, deadline)
        release.extend(rest)
        _mark_applied(applied, token)
        result.applied += len(applied)
        for event, error in failures:
            result.dead += _mark_failed(event, error, token)
        result.failed += len(failures)
    if unavailable_error:
        _pause_after_unavailable()
        result.unavailable = True
        logger.warning("outbox relay: store unavailable (%s); %s events wait", unavailable_error, len(release))
    _release(release, token, delay=UNAVAILABLE_PAUSE_SECONDS if unavailable_error else 0.0, error=unavailable_error)
    result.released = len(release)
    if lost:
        _mark_lost(lost, token)
        result.dead += len(lost)
    return result


def _apply_chunk(
    aggregate_type: str, chunk: list[OutboxEvent], deadline: float
) -> tuple[list[int], list[tuple[OutboxEvent, str]], str, list[int]]:
    """Run the handlers on one chunk: (applied ids, failures, store-unavailable error, ids to release)."""
    batch_handler = _BATCH_HANDLERS.get(aggregate_type)
    if batch_handler is not None and len(chunk) > 1:
        try:
            batch_handler(chunk)
        except TRANSIENT_ERRORS as exc:
            return [], [], _error_text(exc), [e.id for e in chunk]
        except Exception:  # noqa: BLE001 - fall back to one event at a time
            logger.warning("batch handler for %r failed; applying one by one", aggregate_type, exc_info=True)
        else:
            return [e.id for e in chunk], [], "", []
    handler = _HANDLERS.get(aggregate_type)
    applied: list[int] = []
    failures: list[tuple[OutboxEvent, str]] = []
    release: list[int] = []
    unavailable_error = ""
    for event in chunk:
        if unavailable_error or time.monotonic() > deadline:
            release.append(event.id)
            continue
        try:
            if handler is None:
                raise LookupError(f"no outbox handler for {aggregate_type!r}")
            handler(event)
        except TRANSIENT_ERRORS as exc:
            unavailable_error = _error_text(exc)
            release.append(event.id)
        except Exception as exc:  # noqa: BLE001 - any other failure is retried, then dead-lettered
            failures.append((event, _error_text(exc)))
        else:
            applied.append(event.id)
    return applied, failures, unavailable_error, release


@contextmanager
def _relay_session() -> Iterator[None]:
    """The relay's database session: RELAY_CONTEXT and asynchronous commit.

    Every write the relay makes can be derived again: a claim, an outcome or a projection
    row lost in a database crash (async commit may lose the last few hundred ms of commits,
    always a suffix of the WAL) only puts events back to pending, and applying them again is
    idempotent. So the relay doesn't wait for a WAL flush per statement (two or three fsyncs
    per event otherwise). Restored at the end: the connection may serve a request next.
    """
    with db_context(RELAY_CONTEXT):
        with connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit = off")
        try:
            yield
        finally:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("RESET synchronous_commit")
            except Exception:  # noqa: BLE001 - a broken connection must not be reused with the setting
                connection.close()


def relay_apply_ids(event_ids: list[int]) -> int:
    """Fast path: apply these events now if they are due and nobody holds them. Never raises."""
    if not event_ids or store_unavailable():
        return 0
    try:
        with _relay_session():
            events, token = _claim(len(event_ids), ids=event_ids)
            if not events:
                return 0
            return _process(events, token, time.monotonic()).applied
    except Exception:  # noqa: BLE001 - the sweep will retry; the caller already committed
        logger.exception("outbox fast path failed; the relay will catch up")
        return 0


def _anything_due() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM outbox_event "
            "WHERE status = 'pending' AND next_attempt_at <= statement_timestamp())"
        )
        return bool(cursor.fetchone()[0])


def relay_drain(*, limit: int | None = None, budget_seconds: float = 0.0) -> RelayResult:
    """Claim and apply batches of due events until none is due or the time budget is spent.

    budget_seconds=0 runs one batch. `backlog` in the result says a full batch was still
    due when the budget ran out.
    """
    limit = limit or settings.OUTBOX_BATCH_SIZE
    total = RelayResult()
    started = time.monotonic()
    if store_unavailable():
        total.unavailable = True
        return total
    if not _anything_due():
        return total  # the common case for a fast-path message under load: one cheap read
    with _relay_session():
        while True:
            if store_unavailable():
                total.unavailable = True
                break
            claimed_at = time.monotonic()
            events, token = _claim(limit)
            if events:
                total.add(_process(events, token, claimed_at))
            if len(events) < limit or total.unavailable:
                break
            if time.monotonic() - started >= budget_seconds:
                total.backlog = True
                break
    return total


def relay_sweep(*, limit: int | None = None, budget_seconds: float = 0.0) -> int:
    """Claim due events with FOR UPDATE SKIP LOCKED and apply them. Returns how many were applied."""
    return relay_drain(limit=limit, budget_seconds=budget_seconds).applied


# --- MongoDB and projection helpers ------------------------------------------------------


def _collection(collection: Any) -> Any:
    if isinstance(collection, str):
        from taskforge.mongo import mongo_db

        return mongo_db()[collection]
    return collection


def _versioned_update(version: int, fields: dict[str, Any], unset: Iterable[str]) -> dict[str, Any]:
    update: dict[str, Any] = {"$set": {**fields, "version": version}}
    cleared = {name: "" for name in unset if name not in fields and name != "version"}
    if cleared:
        update["$unset"] = cleared
    return update


def mongo_upsert_versioned(
    collection: Any, doc_id: Any, version: int, fields: dict[str, Any], *, unset: Iterable[str] = ()
) -> bool:
    """Upsert a document only if the stored version is older. Returns True when written.

    `collection` is a pymongo Collection or a collection name. An older or equal version
    (a replayed or out-of-order event) changes nothing: the filter does not match and the
    upsert's insert hits the existing _id (DuplicateKeyError). Two relays inserting the
    same new document at once can also collide that way, so a duplicate is retried once
    as a plain update, which writes exactly when the stored version is still older.
    """
    col = _collection(collection)
    selector = {"_id": doc_id, "version": {"$lt": version}}
    update = _versioned_update(version, fields, unset)
    try:
        col.update_one(selector, update, upsert=True)
    except DuplicateKeyError:
        return col.update_one(selector, update).matched_count == 1
    return True


def mongo_tombstone_versioned(collection: Any, doc_id: Any, version: int, *, unset: Iterable[str] = ()) -> bool:
    """Mark a document deleted at `version` (clearing `unset` fields). Readers skip `deleted` docs.

    nx-27017 stores a $set boolean on an existing document as 1, so test `deleted` for truth,
    never `== True`. (Don't use replace_one with upsert for this: nx-27017 ignores the _id
    of the filter on that path.)
    """
    return mongo_upsert_versioned(collection, doc_id, version, {"deleted": True}, unset=unset)


def mongo_upsert_versioned_many(collection: Any, items: Iterable[tuple[Any, int, dict[str, Any]]]) -> int:
    """`mongo_upsert_versioned` for many (doc_id, version, fields), in unordered bulk writes.

    First versions (version 1: creations, most of a catch-up after an outage) go out as one
    unordered insert_many, which is cheaper for the server than upserts (1.5x on nx-27017);
    those that already exist fail as duplicates and take the versioned upsert like the rest.
    Returns how many were written. Errors other than duplicates raise.
    """
    col = _collection(collection)
    items = list(items)
    firsts = [item for item in items if item[1] == 1]
    rest = [item for item in items if item[1] != 1]
    written = 0
    if firsts:
        try:
            written += len(
                col.insert_many(
                    [{**fields, "_id": doc_id, "version": 1} for doc_id, _, fields in firsts], ordered=False
                ).inserted_ids
            )
        except BulkWriteError as exc:
            details = exc.details or {}
            errors = details.get("writeErrors", [])
            if any(error.get("code") != 11000 for error in errors):
                raise
            written += int(details.get("nInserted", 0))
            rest += [firsts[error["index"]] for error in errors]
    if rest:
        written += _bulk_upsert_versioned(col, rest)
    return written


def _bulk_upsert_versioned(col: Any, items: list[tuple[Any, int, dict[str, Any]]]) -> int:
    ops = [
        UpdateOne({"_id": doc_id, "version": {"$lt": version}}, _versioned_update(version, fields, ()), upsert=True)
        for doc_id, version, fields in items
    ]
    try:
        result = col.bulk_write(ops, ordered=False)
    except BulkWriteError as exc:
        details = exc.details or {}
        errors = details.get("writeErrors", [])
        if any(error.get("code") != 11000 for error in errors):
            raise
        written = int(details.get("nUpserted", 0)) + int(details.get("nMatched", 0))
        # A duplicate is a stale version, or a racing insert: retry as a plain versioned update.
        retry = [
            UpdateOne(
                {"_id": items[e["index"]][0], "version": {"$lt": items[e["index"]][1]}},
                _versioned_update(items[e["index"]][1], items[e["index"]][2], ()),
            )
            for e in errors
        ]
        if retry:
            written += col.bulk_write(retry, ordered=False).matched_count
        return written
    return result.upserted_count + result.matched_count


def projection_upsert_versioned_many(
    model: type[models.Model], rows: Iterable[tuple[Any, int, dict[str, Any]]], *, version_field: str = "version"
) -> int:
    """Upsert projection rows (key, version, fields) where the stored version is older.

    INSERT ... ON CONFLICT (pk) DO UPDATE ... WHERE stored version < new version, in one
    statement per 500 rows. On insert, fields not given take their model default; on
    update, only the given fields change. Returns how many rows were written.
    """
    newest: dict[Any, tuple[int, dict[str, Any]]] = {}
    for key, version, fields in rows:
        if key not in newest or newest[key][0] < version:
            newest[key] = (version, fields)
    if not newest:
        return 0
    meta = model._meta
    pk = meta.pk
    vfield = meta.get_field(version_field)
    given = sorted({name for _, fields in newest.values() for name in fields})
    defaults = [
        f
        for f in meta.concrete_fields
        if f.name not in given and f is not pk and f is not vfield and f.has_default() and not f.has_db_default()
    ]
    columns = [pk, vfield, *(meta.get_field(name) for name in given), *defaults]
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    updates = ", ".join(f"{quote(c.column)} = EXCLUDED.{quote(c.column)}" for c in columns[1 : 2 + len(given)])
    written = 0
    items = list(newest.items())
    # No transaction of its own: each statement is atomic, and a partly applied batch is
    # simply applied again (every row only moves forward in version).
    with connection.cursor() as cursor:
        for start in range(0, len(items), 500):
            chunk = items[start : start + 500]
            params: list[Any] = []
            for key, (version, fields) in chunk:
                values = [key, version, *(fields.get(name) for name in given), *(f.get_default() for f in defaults)]
                params.extend(
                    column.get_db_prep_save(value, connection) for column, value in zip(columns, values, strict=True)
                )
            placeholder = "(" + ", ".join(["%s"] * len(columns)) + ")"
            cursor.execute(
                f"INSERT INTO {table} ({', '.join(quote(c.column) for c in columns)}) "
                f"VALUES {', '.join([placeholder] * len(chunk))} "
                f"ON CONFLICT ({quote(pk.column)}) DO UPDATE SET {updates} "
                f"WHERE {table}.{quote(vfield.column)} < EXCLUDED.{quote(vfield.column)}",
                params,
            )
            written += cursor.rowcount
    return written


def projection_upsert_versioned(
    model: type[models.Model], key: Any, version: int, fields: dict[str, Any], *, version_field: str = "version"
) -> bool:
    """One projection row (see projection_upsert_versioned_many). Returns True when written."""
    return projection_upsert_versioned_many(model, [(key, version, fields)], version_field=version_field) == 1


# --- operator views: status, retry, purge --------------------------------------------------


def outbox_status(*, dead_sample: int = 10) -> dict[str, Any]:
    """Pending, in flight, oldest pending age, dead letters and lag percentiles (last hour)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(*),
                   count(*) FILTER (WHERE locked_by <> '' AND next_attempt_at > statement_timestamp()),
                   count(*) FILTER (WHERE locked_by = '' AND attempts > 0),
                   EXTRACT(EPOCH FROM statement_timestamp() - min(created_at))
            FROM outbox_event WHERE status = 'pending'
            """
        )
        pending, in_flight, retrying, oldest = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM outbox_event WHERE status = 'dead'")
        (dead,) = cursor.fetchone()
        cursor.execute(
            """
            SELECT count(*),
                   percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY lag_ms),
                   max(lag_ms)
            FROM outbox_event
            WHERE status = 'applied' AND applied_at >= statement_timestamp() - interval '1 hour'
            """
        )
        applied_hour, percentiles, lag_max = cursor.fetchone()
        cursor.execute(
            """
            SELECT aggregate_type, count(*) FILTER (WHERE status = 'pending'), count(*) FILTER (WHERE status = 'dead')
            FROM outbox_event WHERE status IN ('pending', 'dead') GROUP BY aggregate_type ORDER BY aggregate_type
            """
        )
        by_type = {atype: {"pending": p, "dead": d} for atype, p, d in cursor.fetchall()}
        cursor.execute(
            """
            SELECT id, aggregate_type, aggregate_id, version, attempts, last_error, created_at
            FROM outbox_event WHERE status = 'dead' ORDER BY id DESC LIMIT %s
            """,
            [dead_sample],
        )
        dead_letters = [
            {
                "id": i,
                "aggregate": f"{t}:{a}",
                "version": v,
                "attempts": n,
                "last_error": e,
                "created_at": c.isoformat(),
            }
            for i, t, a, v, n, e, c in cursor.fetchall()
        ]
    p50, p95, p99 = percentiles or (None, None, None)
    return {
        "pending": pending,
        "in_flight": in_flight,
        "retrying": retrying,
        "oldest_pending_seconds": float(oldest) if oldest is not None else None,
        "dead": dead,
        "applied_last_hour": applied_hour,
        "lag_ms": {"p50": p50, "p95": p95, "p99": p99, "max": lag_max},
        "by_type": by_type,
        "dead_letters": dead_letters,
    }


def outbox_retry_dead(*, ids: Sequence[int] | None = None, aggregate_type: str | None = None) -> int:
    """Move dead letters back to pending (attempts reset, last error kept). Returns how many."""
    dead = OutboxEvent.objects.filter(status=OutboxStatus.DEAD)
    if ids:
        dead = dead.filter(id__in=list(ids))
    if aggregate_type:
        dead = dead.filter(aggregate_type=aggregate_type)
    from django.db.models.functions import Now

    return dead.update(status=OutboxStatus.PENDING, attempts=0, locked_by="", next_attempt_at=Now())


def outbox_purge_applied(*, older_than_days: int | None = None, chunk: int = 5000) -> int:
    """Delete applied events older than the retention (OUTBOX_RETENTION_DAYS), in chunks."""
    days = older_than_days if older_than_days is not None else settings.OUTBOX_RETENTION_DAYS
    total = 0
    with connection.cursor() as cursor:
        while True:
            cursor.execute(
                """
                DELETE FROM outbox_event WHERE id IN (
                    SELECT id FROM outbox_event
                    WHERE status = 'applied' AND applied_at < statement_timestamp() - make_interval(days => %s)
                    LIMIT %s)
                """,
                [days, chunk],
            )
            total += cursor.rowcount
            if cursor.rowcount < chunk:
                return total


# --- reconciliation ---------------------------------------------------------------------

STORES = ("documents", "projection")


@dataclass
class DriftReport:
    """What a reconciler found (and repaired) for one aggregate type."""

    aggregate_type: str
    source: int = 0
    documents: int | None = None  # live documents seen (None: no document side)
    projection: int | None = None  # live projection rows seen (None: no projection)
    in_flight: int = 0
    dead_letters: int = 0
    missing: dict[str, list[str]] = field(default_factory=dict)
    orphaned: dict[str, list[str]] = field(default_factory=dict)
    stale: dict[str, list[str]] = field(default_factory=dict)
    repaired: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)  # function reconcilers' own report

    @property
    def drift(self) -> int:
        return sum(len(ids) for kind in (self.missing, self.orphaned, self.stale) for ids in kind.values())

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "drift": self.drift}


_StoreRows = dict[str, tuple[int, bool]]


class Reconciler:
    """Base class of a reconciler (see the module docstring). Subclass, set the
    attributes or override the iterators, implement `reemit`, and register it with
    `@outbox_reconciler("<aggregate type>")`."""

    aggregate_type: str = ""
    source_model: type[models.Model] | None = None
    source_version_field = "version"
    document_collection: str | None = None
    document_id: Callable[[str], Any] = str
    projection_model: type[models.Model] | None = None
    projection_version_field = "version"
    projection_deleted_field: str | None = "deleted"
    chunk_size = 1000

    # -- the three sides, as (id, version[, deleted]) --

    def source(self, ids: list[str] | None = None) -> Iterable[tuple[str, int]]:
        if self.source_model is None:
            raise NotImplementedError(f"{type(self).__name__}: set source_model or override source()")
        manager = self.source_model._default_manager
        pk = self.source_model._meta.pk
        for chunk in _chunks(ids, self.chunk_size):
            rows = manager.all() if chunk is None else manager.filter(pk__in=[pk.to_python(i) for i in chunk])
            for key, version in rows.values_list("pk", self.source_version_field).iterator(chunk_size=2000):
                yield str(key), int(version)

    def documents(self, ids: list[str] | None = None) -> Iterable[tuple[str, int, bool]] | None:
        if self.document_collection is None:
            return None
        return self._documents(ids)

    def _doc_id(self, key: str) -> Any:
        # Read document_id without binding it: a plain function set on the class stays a function.
        convert = inspect.getattr_static(self, "document_id")
        if isinstance(convert, staticmethod):
            convert = convert.__func__
        return convert(key)

    def _documents(self, ids: list[str] | None) -> Iterator[tuple[str, int, bool]]:
        col = _collection(self.document_collection)
        for chunk in _chunks(ids, self.chunk_size):
            query = {} if chunk is None else {"_id": {"$in": [self._doc_id(i) for i in chunk]}}
            for doc in col.find(query, {"version": 1, "deleted": 1}):
                yield str(doc["_id"]), int(doc.get("version") or 0), bool(doc.get("deleted"))

    def projection(self, ids: list[str] | None = None) -> Iterable[tuple[str, int, bool]] | None:
        if self.projection_model is None:
            return None
        return self._projection(ids)

    def _projection(self, ids: list[str] | None) -> Iterator[tuple[str, int, bool]]:
        model = self.projection_model
        assert model is not None
        pk = model._meta.pk
        fields = ["pk", self.projection_version_field]
        if self.projection_deleted_field:
            fields.append(self.projection_deleted_field)
        for chunk in _chunks(ids, self.chunk_size):
            rows = model._default_manager.all()
            if chunk is not None:
                rows = rows.filter(pk__in=[pk.to_python(i) for i in chunk])
            for row in rows.values_list(*fields).iterator(chunk_size=2000):
                yield str(row[0]), int(row[1]), bool(row[2]) if len(row) > 2 else False

    # -- repairs --

    def reemit(self, ids: list[str]) -> int:
        """Record a fresh outbox event with the current state of each id; return how many."""
        raise NotImplementedError(f"{type(self).__name__}.reemit")

    def document_delete(self, ids: list[str]) -> int:
        col = _collection(self.document_collection)
        return col.delete_many({"_id": {"$in": [self._doc_id(i) for i in ids]}}).deleted_count

    def projection_delete(self, ids: list[str]) -> int:
        model = self.projection_model
        assert model is not None
        pk = model._meta.pk
        deleted, _ = model._default_manager.filter(pk__in=[pk.to_python(i) for i in ids]).delete()
        return deleted

    # -- the comparison --

    def _in_flight(self) -> set[str]:
        return set(
            OutboxEvent.objects.filter(aggregate_type=self.aggregate_type, status=OutboxStatus.PENDING)
            .values_list("aggregate_id", flat=True)
            .distinct()
        )

    def _read(self, ids: list[str] | None) -> tuple[dict[str, int], dict[str, _StoreRows | None]]:
        source = dict(self.source(ids))
        stores: dict[str, _StoreRows | None] = {}
        for store, rows in (("documents", self.documents(ids)), ("projection", self.projection(ids))):
            stores[store] = None if rows is None else {key: (version, deleted) for key, version, deleted in rows}
        return source, stores

    @staticmethod
    def _compare(
        source: dict[str, int], rows: _StoreRows, in_flight: set[str]
    ) -> tuple[list[str], list[str], list[str], list[str]]:
        """(missing, orphaned, stale, reset): reset = stale rows to delete before re-emitting."""
        missing, orphaned, stale, reset = [], [], [], []
        for key, version in source.items():
            if key in in_flight:
                continue
            row = rows.get(key)
            if row is None:
                missing.append(key)
            elif row[1] or row[0] != version:
                stale.append(key)
                if row[1] or row[0] > version:
                    reset.append(key)
        for key, (_, deleted) in rows.items():
            if not deleted and key not in source and key not in in_flight:
                orphaned.append(key)
        return sorted(missing), sorted(orphaned), sorted(stale), sorted(reset)

    def run(self, *, fix: bool = False) -> DriftReport:
        report = DriftReport(self.aggregate_type)
        source, stores = self._read(None)
        report.source = len(source)
        for store in STORES:
            rows = stores[store]
            if rows is not None:
                setattr(report, store, sum(1 for _, deleted in rows.values() if not deleted))
        in_flight = self._in_flight()
        candidates: set[str] = set()
        for rows in stores.values():
            if rows is not None:
                for kind in self._compare(source, rows, in_flight)[:3]:
                    candidates.update(kind)
        resets: dict[str, list[str]] = {}
        if candidates:
            # Second look at the candidates only: a write during the scan is not drift.
            source, stores = self._read(sorted(candidates))
            in_flight = self._in_flight()
            for store, rows in stores.items():
                if rows is None:
                    continue
                missing, orphaned, stale, reset = self._compare(source, rows, in_flight)
                for name, ids in (("missing", missing), ("orphaned", orphaned), ("stale", stale)):
                    if ids:
                        getattr(report, name)[store] = ids
                if reset:
                    resets[store] = reset
        report.in_flight = len(in_flight)
        report.dead_letters = OutboxEvent.objects.filter(
            aggregate_type=self.aggregate_type, status=OutboxStatus.DEAD
        ).count()
        if fix and report.drift:
            self._repair(report, resets)
        return report

    def _repair(self, report: DriftReport, resets: dict[str, list[str]]) -> None:
        deleters = {"documents": self.document_delete, "projection": self.projection_delete}
        for store, ids in resets.items():
            report.repaired[f"reset_{store}"] = deleters[store](ids)
        reemit = sorted({key for kind in (report.missing, report.stale) for ids in kind.values() for key in ids})
        if reemit:
            report.repaired["reemitted"] = sum(
                self.reemit(chunk) for chunk in _chunks(reemit, self.chunk_size) if chunk
            )
        for store, ids in report.orphaned.items():
            report.repaired[f"deleted_{store}"] = deleters[store](ids)


class _FunctionReconciler(Reconciler):
    """Adapter for a plain `f(*, repair: bool) -> dict` reconciler."""

    def __init__(self, aggregate_type: str, func: Callable[..., dict[str, Any]]) -> None:
        self.aggregate_type = aggregate_type
        self.func = func

    def run(self, *, fix: bool = False) -> DriftReport:
        details = self.func(repair=fix) or {}
        report = DriftReport(self.aggregate_type, details=details)
        report.source = int(details.get("checked", 0))
        for kind in ("missing", "orphaned", "stale", "drift"):
            ids = details.get(kind)
            if ids:
                target = report.stale if kind == "drift" else getattr(report, kind)
                target["all"] = [str(i) for i in ids]
        repaired = details.get("repaired")
        if repaired:
            report.repaired["repaired"] = len(repaired) if isinstance(repaired, list | tuple | set) else int(repaired)
        if details.get("unrepairable"):
            report.errors.append(f"unrepairable: {details['unrepairable']}")
        return report


_RECONCILERS: dict[str, Reconciler] = {}


def outbox_reconciler(aggregate_type: str) -> Callable[[Any], Any]:
    """Register the reconciler of one aggregate type: a Reconciler subclass or a function."""

    def register(obj: Any) -> Any:
        if isinstance(obj, type) and issubclass(obj, Reconciler):
            instance = obj()
            instance.aggregate_type = aggregate_type
        elif callable(obj):
            instance = _FunctionReconciler(aggregate_type, obj)
        else:
            raise TypeError("outbox_reconciler takes a Reconciler subclass or a function")
        _RECONCILERS[aggregate_type] = instance
        return obj

    return register


def outbox_reconcilers() -> dict[str, Reconciler]:
    return dict(_RECONCILERS)


def outbox_reconcile(*, aggregate_types: Sequence[str] | None = None, fix: bool = False) -> list[DriftReport]:
    """Run the registered reconcilers (all, or the given types); with fix, repair and relay."""
    unknown = set(aggregate_types or ()) - set(_RECONCILERS)
    if unknown:
        raise LookupError(f"no reconciler registered for: {', '.join(sorted(unknown))}")
    reports = []
    with db_context(RELAY_CONTEXT):
        for aggregate_type in sorted(aggregate_types or _RECONCILERS):
            try:
                report = _RECONCILERS[aggregate_type].run(fix=fix)
            except Exception as exc:  # noqa: BLE001 - one broken reconciler must not hide the others
                logger.exception("reconciler %r failed", aggregate_type)
                report = DriftReport(aggregate_type, errors=[_error_text(exc)])
            reports.append(report)
    if fix and any(report.repaired for report in reports):
        relay_drain(budget_seconds=30)  # apply the re-emitted events now, whatever the fast path
    return reports


def _chunks(ids: list[str] | None, size: int) -> Iterator[list[str] | None]:
    if ids is None:
        yield None
        return
    for start in range(0, len(ids), size):
        yield ids[start : start + size]
