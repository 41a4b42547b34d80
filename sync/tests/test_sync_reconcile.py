"""`sync_reconcile`: missing, orphaned and stale documents and projection rows, and --fix."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from sync.models import OutboxEvent, SyncProbe, SyncProbeSearch
from sync.probe import probe_collection, probe_save
from sync.reconcile import _RECONCILERS, DriftReport, Reconciler, outbox_reconcile, outbox_reconciler
from sync.reconcile import reconcile_report_task as reconcile_report
from sync.relay import relay_sweep


@pytest.fixture
def registry() -> Iterator[None]:
    """Test reconcilers registered inside a test are removed afterwards."""
    before = dict(_RECONCILERS)
    yield
    _RECONCILERS.clear()
    _RECONCILERS.update(before)


def _probes(n: int) -> list[SyncProbe]:
    probes = [probe_save(name=f"p{i}", fast_path=False) for i in range(n)]
    assert relay_sweep() == n
    return probes


def _report(**kwargs: object) -> DriftReport:
    (report,) = outbox_reconcile(aggregate_types=["probe"], **kwargs)
    return report


def test_no_drift_when_the_relay_has_applied_everything(db, capsys) -> None:
    _probes(3)
    report = _report()
    assert (report.source, report.documents, report.projection, report.drift) == (3, 3, 3, 0)
    call_command("sync_reconcile", "--type", "probe")
    assert "probe: 3 source rows, 3 documents, 3 projection rows; 0 in flight; drift 0" in capsys.readouterr().out


def test_drift_is_found_reported_and_fixed(db, capsys) -> None:
    p = _probes(7)
    ids = [str(x.pk) for x in p]
    col = probe_collection()
    col.delete_one({"_id": p[0].pk})  # missing document
    SyncProbeSearch.objects.filter(probe_id=p[1].pk).delete()  # missing projection row
    col.update_one({"_id": p[2].pk}, {"$set": {"version": 0, "name": "old"}})  # stale document (older)
    col.update_one({"_id": p[3].pk}, {"$set": {"version": 9, "name": "from the future"}})  # ahead of PostgreSQL
    SyncProbeSearch.objects.filter(probe_id=p[4].pk).update(deleted=True)  # tombstone, yet the row exists
    col.insert_one({"_id": 990001, "version": 1, "name": "orphan"})  # orphaned document
    col.insert_one({"_id": 990002, "version": 2, "deleted": True})  # a tombstone is not an orphan
    SyncProbeSearch.objects.create(probe_id=990003, version=1, name="orphan row")  # orphaned projection row
    col.delete_one({"_id": p[5].pk})
    probe_save(name="in flight", probe_id=p[5].pk, fast_path=False)  # its event is pending: not drift

    report = _report()
    assert report.missing == {"documents": [ids[0]], "projection": [ids[1]]}
    assert report.stale == {"documents": sorted([ids[2], ids[3]]), "projection": [ids[4]]}
    assert report.orphaned == {"documents": ["990001"], "projection": ["990003"]}
    assert report.in_flight == 1 and report.drift == 7

    call_command("sync_reconcile", "--type", "probe")
    out = capsys.readouterr().out
    assert "drift 7" in out and f"missing in documents: 1: {ids[0]}" in out
    assert "orphaned in projection: 1: 990003" in out
    assert col.count_documents({"_id": 990001}) == 1  # report-only changed nothing

    call_command("sync_reconcile", "--type", "probe", "--fix")
    out = capsys.readouterr().out
    assert "repaired:" in out and "reemitted 5" in out
    assert _report().drift == 0
    rows = {x.pk: (x.version, x.name) for x in SyncProbe.objects.all()}
    docs = {d["_id"]: (d["version"], d["name"]) for d in col.find({}) if not d.get("deleted")}
    assert docs == rows
    projection = {r.probe_id: (r.version, r.name) for r in SyncProbeSearch.objects.filter(deleted=False)}
    assert projection == rows
    assert col.find_one({"_id": 990002})["deleted"]  # tombstones are kept


def test_json_output(db, capsys) -> None:
    p = _probes(1)
    probe_collection().delete_one({"_id": p[0].pk})
    call_command("sync_reconcile", "--type", "probe", "--json")
    out = capsys.readouterr().out
    assert '"drift": 1' in out and f'"{p[0].pk}"' in out


def test_a_write_during_the_scan_is_not_reported(db, registry) -> None:
    """The first full scan sees an old source version; the second look at the candidate does not."""
    p = _probes(1)
    calls = []

    class RacingReconciler(Reconciler):
        document_collection = "sync_probe"
        document_id = int

        def source(self, ids: list[str] | None = None) -> Iterator[tuple[str, int]]:
            calls.append(ids)
            yield str(p[0].pk), (1 if ids is not None else 0)  # the scan ran just before a commit

    outbox_reconciler("racing")(RacingReconciler)
    (report,) = outbox_reconcile(aggregate_types=["racing"])
    assert calls == [None, [str(p[0].pk)]]
    assert report.drift == 0


def test_function_reconcilers_errors_and_unknown_types(db, registry, capsys) -> None:
    seen = []

    def fn_reconcile(*, repair: bool = False) -> dict:
        seen.append(repair)
        return {"checked": 4, "drift": ["a", "b"], "repaired": ["a"] if repair else []}

    def broken(*, repair: bool = False) -> dict:
        raise RuntimeError("source unreachable")

    outbox_reconciler("fn")(fn_reconcile)
    outbox_reconciler("broken")(broken)
    reports = {r.aggregate_type: r for r in outbox_reconcile(aggregate_types=["fn", "broken"], fix=True)}
    assert seen == [True]
    assert reports["fn"].drift == 2 and reports["fn"].source == 4 and reports["fn"].repaired == {"repaired": 1}
    assert reports["broken"].errors == ["RuntimeError: source unreachable"]
    with pytest.raises(CommandError, match="reconciler errors in: broken"):
        call_command("sync_reconcile", "--type", "broken", "--type", "fn")
    assert "fn: 4 source rows; 0 in flight; drift 2" in capsys.readouterr().out
    with pytest.raises(CommandError, match="unknown aggregate type"):
        call_command("sync_reconcile", "--type", "nope")


def test_scheduled_report_logs_drift_without_repairing(db, registry, caplog) -> None:
    p = _probes(2)
    probe_collection().delete_one({"_id": p[0].pk})
    for name in list(_RECONCILERS):
        if name != "probe":
            _RECONCILERS.pop(name)  # other apps' reconcilers are tested in their apps
    with caplog.at_level(logging.INFO, logger="sync.reconcile"):
        summary = reconcile_report()
    assert summary == {"probe": 1}
    assert f"sync drift probe: missing={{'documents': ['{p[0].pk}']}}" in caplog.text
    assert probe_collection().count_documents({}) == 1


def test_sync_status_probe_fails_when_no_relay_runs(db, capsys) -> None:
    with pytest.raises(CommandError, match="heartbeat probe was not applied within 1 s"):
        call_command("sync_status", "--probe", "--wait", "1")
    assert "probe: NOT applied" in capsys.readouterr().out
    assert OutboxEvent.objects.get().status == "pending"
