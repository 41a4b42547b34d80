"""Fault tests of cross-store consistency with real processes: a stopped document server,
a SIGKILLed relay worker and several relay workers at once.

The relay runs in real Celery worker processes (celery_worker_proc) on this run's
queues; the test plays beat by sending `sync.relay_sweep` every second.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from django.core.management import call_command

from sync.models import OutboxEvent, OutboxStatus, SyncProbe, SyncProbeSearch
from sync.probe import probe_collection, probe_delete, probe_save
from sync.reconcile import outbox_reconcile
from sync.relay import relay_sweep_task as relay_sweep_job
from sync.relay import store_pause_clear
from sync.status import outbox_status

pytestmark = [pytest.mark.worker, pytest.mark.slow]


@pytest.fixture(autouse=True)
def _relay_state() -> None:
    store_pause_clear()
    yield
    store_pause_clear()


def _beat_until(done: Callable[[], bool], *, timeout: float, every: float = 1.0) -> float:
    """Send a relay sweep every `every` seconds (what beat does) until done(); returns seconds taken."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        relay_sweep_job.delay()
        deadline = time.monotonic() + every
        while time.monotonic() < deadline:
            if done():
                return time.monotonic() - started
            time.sleep(0.1)
    raise AssertionError(f"not done within {timeout} s: {outbox_status()}")


def _nothing_pending() -> bool:
    return not OutboxEvent.objects.filter(status=OutboxStatus.PENDING).exists()


def _assert_stores_match_postgres() -> None:
    """Every probe row has exactly one document and one projection row at its version."""
    rows = {p.pk: (p.version, p.name) for p in SyncProbe.objects.all()}
    docs = list(probe_collection().find({}))
    assert len({d["_id"] for d in docs}) == len(docs)  # no duplicates
    live = {d["_id"]: (d["version"], d["name"]) for d in docs if not d.get("deleted")}
    assert live == rows
    projection = {r.probe_id: (r.version, r.name) for r in SyncProbeSearch.objects.filter(deleted=False)}
    assert projection == rows
    reports = outbox_reconcile(aggregate_types=["probe"])
    assert [(r.drift, r.errors) for r in reports] == [(0, [])]


def _descendants(pid: int) -> list[int]:
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            child = int(stat.parent.name)
            children += [child, *_descendants(child)]
    return children


def _sigkill_worker(worker) -> None:
    """SIGKILL the worker and its pool processes at once, as the OOM killer or a lost host would."""
    pool = _descendants(worker.proc.pid)
    for pid in pool:
        os.kill(pid, signal.SIGKILL)
    worker.kill(signal.SIGKILL)


def test_document_server_outage_then_catch_up_with_zero_drift(celery_worker_proc, docserver, capsys) -> None:
    kept = [probe_save(name=f"before-{i}") for i in range(3)]  # applied on the fast path
    assert probe_collection().count_documents({}) == 3

    docserver.stop()
    started = time.monotonic()
    created = [probe_save(name=f"during-{i}") for i in range(12)]  # nothing raises
    for probe in created[:6]:
        probe_save(name=f"{probe.name}-edited", probe_id=probe.pk)
    probe_save(name="before-0-edited", probe_id=kept[0].pk)
    probe_delete(probe_id=kept[1].pk)
    probe_delete(probe_id=created[11].pk)
    elapsed = time.monotonic() - started
    # 21 writes; the first fast path waits for the server-selection timeout, the rest skip it.
    assert elapsed < 10, elapsed
    assert SyncProbe.objects.count() == 13  # the PostgreSQL side committed
    assert OutboxEvent.objects.filter(status=OutboxStatus.PENDING).count() == 21
    assert not OutboxEvent.objects.filter(status=OutboxStatus.DEAD).exists()
    relay_sweep_job.delay()  # beat keeps sweeping during the outage: no attempt is used up
    time.sleep(3)
    assert set(OutboxEvent.objects.filter(status=OutboxStatus.PENDING).values_list("attempts", flat=True)) == {0}

    docserver.start()
    took = _beat_until(_nothing_pending, timeout=60)
    assert took < 60
    assert not OutboxEvent.objects.exclude(status=OutboxStatus.APPLIED).exists()
    _assert_stores_match_postgres()
    gone = probe_collection().find_one({"_id": kept[1].pk})
    assert gone["deleted"] and gone["version"] == 2
    call_command("sync_reconcile")
    assert "probe: 13 source rows, 13 documents, 13 projection rows; 0 in flight; drift 0" in capsys.readouterr().out


def test_sigkilled_relay_worker_holding_claims_then_restart_applies_each_event_once_in_effect(
    monkeypatch, celery_worker_proc
) -> None:
    monkeypatch.setenv("OUTBOX_LEASE_SECONDS", "8")
    celery_worker_proc.stop()
    celery_worker_proc.start()
    probes = [probe_save(name=f"slow-{i}", delay_ms=100, fast_path=False) for i in range(30)]
    relay_sweep_job.delay()

    # The worker claims all 30 (one batch) and writes them one by one, 100 ms each; it
    # reports results per chunk, so it is killed with documents written but nothing marked.
    deadline = time.monotonic() + 30
    while probe_collection().count_documents({}) < 5:
        assert time.monotonic() < deadline, "the worker never started applying"
        time.sleep(0.05)
    _sigkill_worker(celery_worker_proc)

    held = OutboxEvent.objects.filter(status=OutboxStatus.PENDING).exclude(locked_by="")
    assert held.count() == 30, "the killed worker should hold every event it claimed"
    written_by_dead_worker = probe_collection().count_documents({})
    assert 5 <= written_by_dead_worker < 30

    celery_worker_proc.start()
    _beat_until(_nothing_pending, timeout=60)  # once the 8 s lease ends, a sweep re-claims them
    assert set(OutboxEvent.objects.values_list("status", "attempts")) == {(OutboxStatus.APPLIED, 2)}
    _assert_stores_match_postgres()  # re-applying the written ones changed nothing, nothing is doubled
    assert probe_collection().count_documents({}) == len(probes)


def test_two_relay_processes_never_claim_the_same_event(monkeypatch, celery_worker_proc) -> None:
    """A worker with two pool processes = two relays sweeping at once, with small batches."""
    monkeypatch.setenv("OUTBOX_BATCH_SIZE", "20")
    monkeypatch.setenv("OUTBOX_SWEEP_SECONDS", "2")
    celery_worker_proc.stop()
    celery_worker_proc.start(concurrency=2)
    for i in range(200):
        probe_save(name=f"p{i}", delay_ms=10, fast_path=False)  # ~2 s of work: both relays get some
    _beat_until(_nothing_pending, timeout=90, every=0.3)
    # Every apply goes through a claim and every claim counts an attempt: attempts == 1
    # everywhere means no event was ever claimed twice.
    assert set(OutboxEvent.objects.values_list("status", "attempts")) == {(OutboxStatus.APPLIED, 1)}
    # locked_by keeps the token (host:pid:nonce) of the claim that applied each event.
    pids = {token.split(":")[1] for token in OutboxEvent.objects.values_list("locked_by", flat=True)}
    assert len(pids) == 2, pids  # both pool processes took part
    _assert_stores_match_postgres()


def test_celery_fast_path_applies_without_waiting_for_a_sweep(settings, celery_worker_proc) -> None:
    settings.OUTBOX_FAST_PATH = "celery"
    started = time.monotonic()
    probes = [probe_save(name=f"quick-{i}") for i in range(5)]
    while not _nothing_pending():
        assert time.monotonic() - started < 20, outbox_status()
        time.sleep(0.05)
    events = OutboxEvent.objects.all()
    assert {e.locked_by.split(":")[1] for e in events} != {str(os.getpid())}  # applied by the worker
    assert all(e.lag_ms is not None and e.lag_ms < 10_000 for e in events)
    assert probe_collection().count_documents({}) == len(probes)
    _assert_stores_match_postgres()


def test_sync_status_probe_round_trips_through_the_running_relay(celery_worker_proc, capsys) -> None:
    import threading

    stop = threading.Event()

    def beat() -> None:
        while not stop.is_set():
            relay_sweep_job.delay()
            stop.wait(0.5)

    ticker = threading.Thread(target=beat)
    ticker.start()
    try:
        call_command("sync_status", "--probe", "--wait", "30")
    finally:
        stop.set()
        ticker.join()
    out = capsys.readouterr().out
    assert "probe: applied by the relay in" in out
    assert SyncProbe.objects.get().name == "heartbeat"
    assert probe_collection().find_one({})["name"] == "heartbeat"
