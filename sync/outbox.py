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

import logging
from typing import Any

from django.conf import settings
from django.db import transaction

from sync.handlers import handler_get
from sync.models import OutboxEvent
from sync.relay import relay_apply_ids, relay_event_task

logger = logging.getLogger(__name__)

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
    if handler_get(aggregate_type) is None:
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
    try:
        relay_event_task.apply_async(args=[event_ids], delivery_mode=1)
    except Exception:
        logger.warning("could not queue sync.relay_event; the sweep will apply %s", event_ids, exc_info=True)
