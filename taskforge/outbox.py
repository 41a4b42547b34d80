"""Transactional outbox: record events with the PostgreSQL change, apply them to MongoDB.

Usage from a service, inside its transaction:

    outbox_record(aggregate_type="task", aggregate_id=str(task.id), version=task.version,
                  event_type="task.upserted", payload={...full document state...})

Each app registers how to apply its aggregate type in its `sync.py`:

    @outbox_handler("task")
    def task_apply(event: OutboxEvent) -> None: ...   # must be idempotent

After commit a fast path applies the new events in-process (so the page shows the
change at once); the relay (`sync.relay_sweep`, run by beat every few seconds) is
what guarantees delivery. A handler that raises leaves the event pending with an
exponential backoff; after OUTBOX_MAX_ATTEMPTS it becomes a dead letter.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from pymongo.errors import DuplicateKeyError

from taskforge.models import OutboxEvent, OutboxStatus

logger = logging.getLogger(__name__)

Handler = Callable[[OutboxEvent], None]
_HANDLERS: dict[str, Handler] = {}


def outbox_handler(aggregate_type: str) -> Callable[[Handler], Handler]:
    def register(func: Handler) -> Handler:
        _HANDLERS[aggregate_type] = func
        return func

    return register


def outbox_handlers() -> dict[str, Handler]:
    return dict(_HANDLERS)


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
    event = OutboxEvent.objects.create(
        aggregate_type=aggregate_type,
        aggregate_id=str(aggregate_id),
        version=version,
        event_type=event_type,
        payload=payload,
    )
    if fast_path:
        transaction.on_commit(lambda: relay_apply_ids([event.id]))
    return event


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(2 ** max(attempts - 1, 0), 300))


def _apply_one(event: OutboxEvent, now: Any) -> bool:
    handler = _HANDLERS.get(event.aggregate_type)
    try:
        if handler is None:
            raise LookupError(f"no outbox handler for {event.aggregate_type!r}")
        handler(event)
    except Exception as exc:  # noqa: BLE001 - any failure is retried, then dead-lettered
        event.attempts += 1
        event.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        if event.attempts >= settings.OUTBOX_MAX_ATTEMPTS:
            event.status = OutboxStatus.DEAD
            logger.error("outbox event %s dead after %s attempts: %s", event.id, event.attempts, event.last_error)
        else:
            event.next_attempt_at = now + _backoff(event.attempts)
        event.save(update_fields=["attempts", "last_error", "status", "next_attempt_at"])
        return False
    event.status = OutboxStatus.APPLIED
    event.applied_at = timezone.now()
    event.lag_ms = max(int((event.applied_at - event.created_at).total_seconds() * 1000), 0)
    event.attempts += 1
    event.save(update_fields=["status", "applied_at", "lag_ms", "attempts"])
    return True


def relay_apply_ids(event_ids: list[int]) -> int:
    """Fast path: apply these events now if nobody else holds them. Never raises."""
    try:
        with transaction.atomic():
            events = list(
                OutboxEvent.objects.select_for_update(skip_locked=True)
                .filter(id__in=event_ids, status=OutboxStatus.PENDING)
                .order_by("id")
            )
            now = timezone.now()
            return sum(_apply_one(event, now) for event in events)
    except Exception:  # noqa: BLE001 - the relay will retry; the request already committed
        logger.exception("outbox fast path failed; the relay will catch up")
        return 0


def relay_sweep(*, limit: int = 500) -> int:
    """Claim due pending events with FOR UPDATE SKIP LOCKED and apply them. Returns how many applied."""
    with transaction.atomic():
        now = timezone.now()
        events = list(
            OutboxEvent.objects.select_for_update(skip_locked=True)
            .filter(status=OutboxStatus.PENDING, next_attempt_at__lte=now)
            .order_by("id")[:limit]
        )
        return sum(_apply_one(event, now) for event in events)


def mongo_upsert_versioned(collection: Any, doc_id: Any, version: int, fields: dict[str, Any]) -> bool:
    """Upsert a document only if the stored version is older. Returns True when written.

    An older or equal version (a replayed or out-of-order event) changes nothing: the
    filter does not match, the upsert hits the existing _id and raises DuplicateKeyError,
    which means "already newer".
    """
    try:
        collection.update_one(
            {"_id": doc_id, "version": {"$lt": version}},
            {"$set": {**fields, "version": version}},
            upsert=True,
        )
    except DuplicateKeyError:
        return False
    return True
