"""The relay's self-test aggregate "probe": services, appliers and reconciler.

A SyncProbe row (PostgreSQL, source of truth) is mirrored to a MongoDB document in
`sync_probe` ({_id: probe id, version, name, deleted?}) and to a SyncProbeSearch
projection row, through the outbox like any domain aggregate. It exists so the relay
can be exercised end to end without business data: `manage.py sync_status --probe`
(heartbeat through the running relay), the fault tests and bench/sync.

`delay_ms` in a probe's payload makes its applier sleep that long (at most 10 s) before
writing: the fault tests use it to hold claimed events while a worker is killed.
"""

from __future__ import annotations

import time
from typing import Any

from celery import shared_task
from django.db import transaction

from sync.handlers import outbox_batch_handler, outbox_handler
from sync.models import OutboxEvent, SyncProbe, SyncProbeSearch
from sync.outbox import outbox_record
from sync.reconcile import Reconciler, outbox_reconciler
from sync.stores import (
    mongo_tombstone_versioned,
    mongo_upsert_versioned,
    mongo_upsert_versioned_many,
    projection_upsert_versioned,
    projection_upsert_versioned_many,
)
from taskforge.dbcontext import context_current
from taskforge.mongo import documents_db

PROBE = "probe"
PROBE_COLLECTION = "sync_probe"
MAX_DELAY_MS = 10_000


def probe_collection() -> Any:
    return documents_db()[PROBE_COLLECTION]


def _payload(probe: SyncProbe, *, deleted: bool = False, delay_ms: int = 0) -> dict[str, Any]:
    payload: dict[str, Any] = {"name": "" if deleted else probe.name, "deleted": deleted}
    if delay_ms:
        payload["delay_ms"] = delay_ms
    return payload


# --- services ---------------------------------------------------------------------------


def probe_save(*, name: str, probe_id: int | None = None, delay_ms: int = 0, fast_path: bool = True) -> SyncProbe:
    """Create a probe (probe_id None) or rename it, with its outbox event, in one transaction."""
    if not 0 <= delay_ms <= MAX_DELAY_MS:
        raise ValueError(f"delay_ms must be between 0 and {MAX_DELAY_MS}")
    name = name.strip()[:200]
    with transaction.atomic():
        if probe_id is None:
            probe = SyncProbe.objects.create(name=name, version=1)
        else:
            probe = SyncProbe.objects.select_for_update().get(pk=probe_id)
            probe.name = name
            probe.version += 1
            probe.save(update_fields=["name", "version"])
        outbox_record(
            aggregate_type=PROBE,
            aggregate_id=str(probe.pk),
            version=probe.version,
            event_type="probe.upserted",
            payload=_payload(probe, delay_ms=delay_ms),
            fast_path=fast_path,
        )
    return probe


def probe_delete(*, probe_id: int, fast_path: bool = True) -> None:
    """Delete a probe; its document and projection row become tombstones at version + 1."""
    with transaction.atomic():
        probe = SyncProbe.objects.select_for_update().get(pk=probe_id)
        version = probe.version + 1
        probe.delete()
        outbox_record(
            aggregate_type=PROBE,
            aggregate_id=str(probe_id),
            version=version,
            event_type="probe.deleted",
            payload=_payload(probe, deleted=True),
            fast_path=fast_path,
        )


# --- appliers ---------------------------------------------------------------------------


def _fields(event: OutboxEvent) -> dict[str, Any]:
    return {"name": event.payload.get("name", ""), "deleted": bool(event.payload.get("deleted"))}


@outbox_handler(PROBE)
def probe_apply(event: OutboxEvent) -> None:
    delay = min(int(event.payload.get("delay_ms") or 0), MAX_DELAY_MS)
    if delay:
        time.sleep(delay / 1000)
    fields = _fields(event)
    # Projection first: PostgreSQL is reachable whenever the relay is running.
    projection_upsert_versioned(SyncProbeSearch, int(event.aggregate_id), event.version, fields)
    if fields["deleted"]:
        mongo_tombstone_versioned(probe_collection(), int(event.aggregate_id), event.version, unset=("name",))
    else:
        mongo_upsert_versioned(probe_collection(), int(event.aggregate_id), event.version, {"name": fields["name"]})


@outbox_batch_handler(PROBE)
def probe_apply_many(events: list[OutboxEvent]) -> None:
    """Plain upserts in two bulk writes; slow (delay_ms) and delete events one by one."""
    plain = []
    for event in events:
        if event.payload.get("delay_ms") or event.payload.get("deleted"):
            probe_apply(event)
        else:
            plain.append(event)
    rows = [(int(e.aggregate_id), e.version, _fields(e)) for e in plain]
    projection_upsert_versioned_many(SyncProbeSearch, rows)
    mongo_upsert_versioned_many(probe_collection(), [(key, v, {"name": f["name"]}) for key, v, f in rows])


# --- reconciliation ---------------------------------------------------------------------


@outbox_reconciler(PROBE)
class ProbeReconciler(Reconciler):
    source_model = SyncProbe
    document_collection = PROBE_COLLECTION
    document_id = int
    projection_model = SyncProbeSearch

    def reemit(self, ids: list[str]) -> int:
        count = 0
        with transaction.atomic():
            for probe in SyncProbe.objects.filter(pk__in=[int(i) for i in ids]).order_by("pk"):
                outbox_record(
                    aggregate_type=PROBE,
                    aggregate_id=str(probe.pk),
                    version=probe.version,
                    event_type="probe.upserted",
                    payload=_payload(probe),
                )
                count += 1
        return count


@shared_task(name="sync.ping", ignore_result=False)
def ping_task(value: str) -> dict[str, str]:
    """Round trip through the broker and a worker; used by readiness checks and tests."""
    ctx = context_current()
    return {"echo": value, "request_id": ctx.request_id, "user_id": ctx.user_id}
