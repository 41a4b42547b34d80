"""The outbox handler registry: each app registers the idempotent applier of its aggregate
types (and optional batch appliers) in its `sync.py`, imported at start-up. Also the
context the relay and the reconcilers act under, and the store-unavailable signal."""

from __future__ import annotations

import logging
from collections.abc import Callable

from sync.models import OutboxEvent
from taskforge.dbcontext import DbContext
from taskforge.mongo import is_document_store_failure

logger = logging.getLogger(__name__)

Handler = Callable[[OutboxEvent], None]
BatchHandler = Callable[[list[OutboxEvent]], None]
_HANDLERS: dict[str, Handler] = {}
_BATCH_HANDLERS: dict[str, BatchHandler] = {}

# The relay and the reconcilers act as the system: no person, and RLS lets them see all.
RELAY_CONTEXT = DbContext(role="system", user_agent="taskforge outbox relay")


class OutboxRetryLater(Exception):
    """Raise from a handler when a store is unreachable: retried later without using an attempt."""


def error_is_transient(exc: BaseException) -> bool:
    """A store was unreachable (taskforge.mongo's one outage rule: pymongo's ConnectionFailure,
    raw or wrapped by the ORM) or a handler said so (OutboxRetryLater): retry later without
    using an attempt."""
    return isinstance(exc, OutboxRetryLater) or is_document_store_failure(exc)


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


def handler_get(aggregate_type: str) -> Handler | None:
    return _HANDLERS.get(aggregate_type)


def batch_handler_get(aggregate_type: str) -> BatchHandler | None:
    return _BATCH_HANDLERS.get(aggregate_type)
