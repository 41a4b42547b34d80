"""The outbox relay: claim due events, apply them through the registered handlers, record
the outcome (see sync/outbox.py for the whole story), and its Celery jobs."""

from __future__ import annotations

import json
import logging
import os
import random
import socket
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import connection

from sync.handlers import RELAY_CONTEXT, batch_handler_get, error_is_transient, handler_get
from sync.models import OutboxEvent, OutboxStatus
from taskforge.dbcontext import db_context

logger = logging.getLogger(__name__)

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


# After a store-unavailable error this process leaves MongoDB alone for a moment, so a
# request's fast path or a sweep does not wait for a server-selection timeout each time.
UNAVAILABLE_PAUSE_SECONDS = 3.0
_unavailable_until = 0.0


def store_unavailable() -> bool:
    """True while this process is pausing after a store-unavailable error."""
    return time.monotonic() < _unavailable_until


def store_pause_clear() -> None:
    """Forget a pause after a store-unavailable error (the store is back: fault drills, tests)."""
    global _unavailable_until
    _unavailable_until = 0.0


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


def error_text(exc: BaseException) -> str:
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
    batch_handler = batch_handler_get(aggregate_type)
    if batch_handler is not None and len(chunk) > 1:
        try:
            batch_handler(chunk)
        except Exception as exc:
            if error_is_transient(exc):
                return [], [], error_text(exc), [e.id for e in chunk]
            logger.warning("batch handler for %r failed; applying one by one", aggregate_type, exc_info=True)
        else:
            return [e.id for e in chunk], [], "", []
    handler = handler_get(aggregate_type)
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
        except Exception as exc:  # noqa: BLE001 - an outage waits; any other failure is retried, then dead-lettered
            if error_is_transient(exc):
                unavailable_error = error_text(exc)
                release.append(event.id)
            else:
                failures.append((event, error_text(exc)))
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
    except Exception:
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


# --- Celery jobs ----------------------------------------------------------------------------


@shared_task(name="sync.relay_sweep", ignore_result=True, time_limit=120, soft_time_limit=110)
def relay_sweep_task() -> int:
    """Beat runs this every few seconds: apply due events for up to OUTBOX_SWEEP_SECONDS.

    If a backlog is left (a catch-up after an outage), queue a follow-up sweep so the
    catch-up continues without waiting for beat and idle workers can join it.
    """
    result = relay_drain(budget_seconds=settings.OUTBOX_SWEEP_SECONDS)
    if result.backlog and not result.unavailable:
        try:
            relay_sweep_task.apply_async(expires=settings.OUTBOX_SWEEP_SECONDS * 3)
        except Exception:
            logger.warning("could not queue a follow-up relay sweep", exc_info=True)
    return result.applied


@shared_task(name="sync.relay_event", ignore_result=True, time_limit=60, soft_time_limit=55)
def relay_event_task(event_ids: list[int]) -> int:
    """Fast path through a worker (OUTBOX_FAST_PATH=celery), queued after commit.

    Runs one relay batch: the oldest due events first, so these events (unless another
    relay already has them) and everything due before them. Under load one message then
    applies many events in one batch, and the messages behind it find little to do.
    """
    if not event_ids:
        return 0
    return relay_drain().applied
