"""The outbox relay, in-process: claiming, leases, idempotence, ordering, backoff and dead letters.

Real PostgreSQL (as the application role) and a real document server; the relay's own
functions are called directly. Worker-process and fault tests are in test_sync_faults.py.
"""

from __future__ import annotations

import os
import random
import re
import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.test import override_settings
from django.utils import timezone
from pymongo.errors import OperationFailure, ServerSelectionTimeoutError

from sync.handlers import outbox_handler
from sync.models import OutboxEvent, OutboxStatus, SyncProbe, SyncProbeSearch
from sync.outbox import outbox_record
from sync.probe import probe_collection, probe_delete, probe_save
from sync.relay import (
    _claim,
    _mark_failed,
    _process,
    relay_apply_ids,
    relay_drain,
    relay_sweep,
    store_pause_clear,
    store_unavailable,
)
from sync.status import outbox_purge_applied, outbox_status
from sync.stores import mongo_upsert_versioned_many, projection_upsert_versioned

# --- test-only aggregates -----------------------------------------------------------------

FLAKY = {"fail": True, "calls": 0}


@outbox_handler("test_flaky")
def _flaky_apply(event: OutboxEvent) -> None:
    FLAKY["calls"] += 1
    if FLAKY["fail"]:
        raise RuntimeError(f"cannot apply {event.aggregate_id}")


WRAPPED: dict[str, BaseException] = {}


@outbox_handler("test_wrapped")
def _wrapped_apply(event: OutboxEvent) -> None:
    """Fails as django-mongodb-backend does: a DatabaseError caused by a pymongo error."""
    raise DatabaseError("wrapped by the ORM") from WRAPPED["cause"]


APPLIED: Counter[int] = Counter()
_applied_lock = threading.Lock()


@outbox_handler("test_count")
def _count_apply(event: OutboxEvent) -> None:
    with _applied_lock:
        APPLIED[event.id] += 1


@pytest.fixture(autouse=True)
def _relay_state() -> None:
    store_pause_clear()
    FLAKY.update(fail=True, calls=0)
    APPLIED.clear()
    yield
    store_pause_clear()


def _record(aggregate_type: str, aggregate_id: str, version: int, payload: dict | None = None) -> OutboxEvent:
    with transaction.atomic():
        return outbox_record(
            aggregate_type=aggregate_type,
            aggregate_id=aggregate_id,
            version=version,
            event_type=f"{aggregate_type}.upserted",
            payload=payload or {},
            fast_path=False,
        )


def _probe_state(probe_id: int) -> tuple[dict | None, tuple | None]:
    doc = probe_collection().find_one({"_id": probe_id})
    row = SyncProbeSearch.objects.filter(probe_id=probe_id).values_list("version", "name", "deleted").first()
    return doc, row


# --- recording and the fast path ------------------------------------------------------------


def test_service_change_reaches_both_stores_through_the_fast_path(db, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        probe = probe_save(name="alpha")
    event = OutboxEvent.objects.get(aggregate_type="probe", aggregate_id=str(probe.pk))
    assert event.status == OutboxStatus.APPLIED
    assert event.attempts == 1 and event.locked_by.split(":")[1] == str(os.getpid())  # who applied it
    assert event.applied_at is not None and event.lag_ms is not None and event.lag_ms >= 0
    doc, row = _probe_state(probe.pk)
    assert doc == {"_id": probe.pk, "name": "alpha", "version": 1}
    assert row == (1, "alpha", False)


def test_record_refuses_unknown_types_and_bad_versions(db) -> None:
    with pytest.raises(LookupError, match="no outbox handler"):
        _record("nobody", "1", 1)
    with pytest.raises(ValueError, match="positive integer"):
        _record("probe", "1", 0)
    with pytest.raises(ValueError, match="1 to 64"):
        _record("probe", "x" * 65, 1)
    assert not OutboxEvent.objects.exists()


def test_event_rolls_back_with_the_change(db) -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        probe_save(name="doomed", fast_path=False)
        raise RuntimeError("the service failed after recording")
    assert not SyncProbe.objects.exists()
    assert not OutboxEvent.objects.exists()


# --- ordering, replay, tombstones ----------------------------------------------------------


def test_out_of_order_delivery_ends_at_the_newest_version(db) -> None:
    probe = probe_save(name="v1", fast_path=False)
    for n in range(2, 6):
        probe_save(name=f"v{n}", probe_id=probe.pk, fast_path=False)
    events = list(OutboxEvent.objects.filter(aggregate_type="probe").order_by("version"))
    assert [e.version for e in events] == [1, 2, 3, 4, 5]
    for event in (events[4], events[2], events[0], events[3], events[1]):  # newest first
        assert relay_apply_ids([event.id]) == 1
    doc, row = _probe_state(probe.pk)
    assert doc["version"] == 5 and doc["name"] == "v5"
    assert row == (5, "v5", False)
    assert set(OutboxEvent.objects.values_list("status", flat=True)) == {OutboxStatus.APPLIED}


def test_a_shuffled_batch_ends_at_the_newest_version(db) -> None:
    probes = [probe_save(name="n1", fast_path=False) for _ in range(20)]
    for probe in probes:
        for n in range(2, 5):
            probe_save(name=f"n{n}", probe_id=probe.pk, fast_path=False)
    ids = list(OutboxEvent.objects.values_list("id", flat=True))
    random.Random(7).shuffle(ids)
    OutboxEvent.objects.filter(id__in=ids[:40]).update(next_attempt_at=timezone.now() - timedelta(minutes=1))
    assert relay_sweep(limit=500) == 80  # one batch: the batch handler with a bulk write
    for probe in probes:
        doc, row = _probe_state(probe.pk)
        assert (doc["version"], doc["name"]) == (4, "n4")
        assert row == (4, "n4", False)


def test_replaying_every_event_twice_changes_nothing(db) -> None:
    probes = [probe_save(name=f"p{i}", fast_path=False) for i in range(5)]
    probe_save(name="renamed", probe_id=probes[0].pk, fast_path=False)
    probe_delete(probe_id=probes[1].pk, fast_path=False)
    assert relay_sweep() == 7

    def snapshot() -> tuple[list, list]:
        docs = sorted(probe_collection().find({}), key=lambda d: d["_id"])
        rows = list(SyncProbeSearch.objects.order_by("probe_id").values_list("probe_id", "version", "name", "deleted"))
        return docs, rows

    before = snapshot()
    assert len(before[0]) == 5 and len(before[1]) == 5
    for _ in range(2):
        OutboxEvent.objects.update(status=OutboxStatus.PENDING, next_attempt_at=timezone.now())
        assert relay_sweep() == 7
        assert snapshot() == before


def test_a_late_older_event_does_not_resurrect_a_deleted_entity(db) -> None:
    probe = probe_save(name="short-lived", fast_path=False)
    create = OutboxEvent.objects.get(version=1)
    probe_delete(probe_id=probe.pk, fast_path=False)
    tombstone = OutboxEvent.objects.get(version=2)
    assert relay_apply_ids([tombstone.id]) == 1
    assert relay_apply_ids([create.id]) == 1  # applied = handled; it changes nothing
    doc, row = _probe_state(probe.pk)
    assert doc["version"] == 2 and doc["deleted"] and "name" not in doc
    assert row == (2, "", True)


def test_bulk_upsert_with_stale_and_repeated_ids(db) -> None:
    col = probe_collection()
    col.insert_one({"_id": 1, "version": 5, "name": "newer"})
    written = mongo_upsert_versioned_many(
        col, [(1, 3, {"name": "old"}), (2, 1, {"name": "a"}), (2, 2, {"name": "b"}), (3, 1, {"name": "c"})]
    )
    assert written == 3
    assert {d["_id"]: (d["version"], d["name"]) for d in col.find({})} == {
        1: (5, "newer"),
        2: (2, "b"),
        3: (1, "c"),
    }


def test_projection_upsert_only_moves_forward(db) -> None:
    assert projection_upsert_versioned(SyncProbeSearch, 9, 2, {"name": "two"}) is True
    assert projection_upsert_versioned(SyncProbeSearch, 9, 1, {"name": "one"}) is False
    assert projection_upsert_versioned(SyncProbeSearch, 9, 2, {"name": "again"}) is False
    assert projection_upsert_versioned(SyncProbeSearch, 9, 3, {"deleted": True}) is True
    assert SyncProbeSearch.objects.values_list("version", "name", "deleted").get(probe_id=9) == (3, "two", True)


# --- claims and leases ------------------------------------------------------------------------


def test_a_claimed_event_is_invisible_to_other_relays_until_its_lease_ends(db) -> None:
    event = _record("test_count", "1", 1)
    claimed, token = _claim(10)
    assert [e.id for e in claimed] == [event.id]
    assert _claim(10)[0] == []  # a second relay finds nothing due
    assert relay_apply_ids([event.id]) == 0  # nor does the fast path
    # The first relay "dies"; when its lease ends the event is due again.
    OutboxEvent.objects.filter(id=event.id).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert relay_sweep() == 1
    assert APPLIED[event.id] == 1
    # The dead relay's late result is fenced off by its stale token.
    _mark_failed(claimed[0], "late failure from a lost relay", token)
    event.refresh_from_db()
    assert event.status == OutboxStatus.APPLIED and event.last_error == ""
    assert event.attempts == 2


def test_a_relay_stops_at_half_its_lease_and_releases_the_rest(db) -> None:
    events = [_record("test_count", str(i), 1) for i in range(5)]
    claimed, token = _claim(10)
    result = _process(claimed, token, claimed_at=-1e9)  # the lease is long gone
    assert result.applied == 0 and result.released == 5
    for event in events:
        event.refresh_from_db()
        assert (event.status, event.attempts, event.locked_by) == (OutboxStatus.PENDING, 0, "")
    assert relay_sweep() == 5


@override_settings(OUTBOX_MAX_ATTEMPTS=3)
def test_a_claim_lost_again_and_again_ends_as_a_dead_letter(db) -> None:
    event = _record("test_count", "1", 1)
    for _ in range(3):  # three relays claim it and vanish
        assert len(_claim(10)[0]) == 1
        OutboxEvent.objects.filter(id=event.id).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert relay_sweep() == 0
    event.refresh_from_db()
    assert event.status == OutboxStatus.DEAD
    assert "without a result" in event.last_error
    assert APPLIED[event.id] == 0


def test_concurrent_relays_apply_each_event_exactly_once(committed_db) -> None:
    with transaction.atomic():
        for i in range(1500):
            outbox_record(
                aggregate_type="test_count", aggregate_id=str(i), version=1, event_type="x", payload={}, fast_path=False
            )
    errors: list[BaseException] = []

    def relay() -> None:
        try:
            while relay_sweep(limit=25):
                pass
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=relay) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    ids = set(OutboxEvent.objects.values_list("id", flat=True))
    assert set(APPLIED) == ids and set(APPLIED.values()) == {1}
    assert set(OutboxEvent.objects.values_list("status", "attempts")) == {(OutboxStatus.APPLIED, 1)}


# --- failures, backoff, dead letters, retry ------------------------------------------------------


@override_settings(OUTBOX_MAX_ATTEMPTS=3, OUTBOX_BACKOFF_MAX_SECONDS=300)
def test_failures_back_off_then_dead_letter_then_sync_retry(db, capsys) -> None:
    event = _record("test_flaky", "42", 1)
    delays = []
    for attempt in (1, 2):
        before = timezone.now()
        assert relay_sweep() == 0
        event.refresh_from_db()
        assert (event.status, event.attempts) == (OutboxStatus.PENDING, attempt)
        assert event.last_error == "RuntimeError: cannot apply 42"
        delays.append((event.next_attempt_at - before).total_seconds())
        assert relay_sweep() == 0  # not due yet: backoff
        assert FLAKY["calls"] == attempt
        OutboxEvent.objects.filter(id=event.id).update(next_attempt_at=timezone.now())
    assert 0.7 < delays[0] < 1.5 and 1.5 < delays[1] < 2.6  # 1 s, 2 s (+-20 % jitter)
    assert relay_sweep() == 0
    event.refresh_from_db()
    assert (event.status, event.attempts) == (OutboxStatus.DEAD, 3)
    assert "cannot apply 42" in event.last_error

    call_command("sync_status")
    out = capsys.readouterr().out
    assert "dead letters: 1" in out and "cannot apply 42" in out

    FLAKY["fail"] = False
    call_command("sync_retry", "--dry-run")
    assert "1 dead letters would be moved" in capsys.readouterr().out
    assert OutboxEvent.objects.get(id=event.id).status == OutboxStatus.DEAD
    call_command("sync_retry")
    assert "moved 1 dead letters back to pending" in capsys.readouterr().out
    event.refresh_from_db()
    assert (event.status, event.attempts) == (OutboxStatus.PENDING, 0)
    assert relay_sweep() == 1
    event.refresh_from_db()
    assert event.status == OutboxStatus.APPLIED


def test_sync_retry_filters_by_type_and_id(db, capsys) -> None:
    flaky = [_record("test_flaky", str(i), 1) for i in range(3)]
    counted = _record("test_count", "1", 1)
    OutboxEvent.objects.update(status=OutboxStatus.DEAD, attempts=8)
    call_command("sync_retry", "--type", "test_flaky", "--id", str(flaky[0].id), "--id", str(flaky[1].id))
    assert "moved 2 dead" in capsys.readouterr().out
    statuses = dict(OutboxEvent.objects.values_list("id", "status"))
    assert statuses == {
        flaky[0].id: "pending",
        flaky[1].id: "pending",
        flaky[2].id: "dead",
        counted.id: "dead",
    }


def test_an_unreachable_store_uses_no_attempt_and_pauses_the_relay(db, docserver) -> None:
    events = [probe_save(name=f"down{i}", fast_path=False) for i in range(3)]
    docserver.stop()
    try:
        result = relay_drain()
        assert result.unavailable and result.applied == 0 and result.released == 3
        assert store_unavailable()
        assert relay_apply_ids(list(OutboxEvent.objects.values_list("id", flat=True))) == 0  # paused: no wait
        rows = list(OutboxEvent.objects.values_list("status", "attempts", "locked_by"))
        assert rows == [(OutboxStatus.PENDING, 0, "")] * 3
        assert re.match(r"(ServerSelectionTimeoutError|AutoReconnect): ", OutboxEvent.objects.first().last_error)
    finally:
        docserver.start()
    store_pause_clear()
    OutboxEvent.objects.update(next_attempt_at=timezone.now())
    assert relay_sweep() == 3
    assert probe_collection().count_documents({}) == len(events)


# --- status, purge ---------------------------------------------------------------------------


def test_sync_status_reports_pending_age_and_lag_percentiles(db, capsys) -> None:
    for i in range(10):
        _record("test_count", str(i), 1)
    assert relay_sweep() == 10
    OutboxEvent.objects.update(lag_ms=None)
    for n, event in enumerate(OutboxEvent.objects.order_by("id"), start=1):
        OutboxEvent.objects.filter(id=event.id).update(lag_ms=n * 10)  # 10 .. 100 ms
    old = _record("test_flaky", "7", 1)
    OutboxEvent.objects.filter(id=old.id).update(created_at=timezone.now() - timedelta(seconds=90))
    status = outbox_status()
    assert status["pending"] == 1 and status["dead"] == 0 and status["applied_last_hour"] == 10
    assert 89 < status["oldest_pending_seconds"] < 120
    assert status["lag_ms"]["p50"] == pytest.approx(55.0)
    assert status["lag_ms"]["p99"] == pytest.approx(99.1)
    assert status["by_type"] == {"test_flaky": {"pending": 1, "dead": 0}}
    call_command("sync_status")
    out = capsys.readouterr().out
    assert re.search(r"pending: 1 .*; oldest pending: (89|9\d)\.\d s", out), out
    assert "p50 55 ms, p95 95 ms, p99 99 ms, max 100 ms" in out and "dead letters: 0" in out
    call_command("sync_status", "--json")
    assert '"applied_last_hour": 10' in capsys.readouterr().out


def test_purge_deletes_only_old_applied_events(db) -> None:
    for i in range(4):
        _record("test_count", str(i), 1)
    relay_sweep()
    pending = _record("test_flaky", "1", 1)
    OutboxEvent.objects.filter(aggregate_id__in=["0", "1"]).update(applied_at=timezone.now() - timedelta(days=8))
    assert outbox_purge_applied() == 2
    assert set(OutboxEvent.objects.values_list("aggregate_id", flat=True)) == {"2", "3", pending.aggregate_id}


@pytest.mark.parametrize(
    ("cause", "attempts"),
    [
        (ServerSelectionTimeoutError("no server"), 0),  # an outage: waits, no attempt used
        (OperationFailure("refused", code=2), 1),  # a refused operation: a failure like any other
    ],
)
def test_an_orm_wrapped_document_store_error_is_classified_by_its_cause(db, cause, attempts) -> None:
    WRAPPED["cause"] = cause
    event = _record("test_wrapped", "7", 1)
    assert relay_sweep() == 0
    event.refresh_from_db()
    assert (event.status, event.attempts) == (OutboxStatus.PENDING, attempts)
