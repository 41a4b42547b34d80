"""Reconciliation: find and repair drift between PostgreSQL rows, MongoDB documents and the
search projections (`manage.py sync_reconcile`; see sync/outbox.py for registering one)."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from celery import shared_task
from django.db import models

from sync.handlers import RELAY_CONTEXT
from sync.models import OutboxEvent, OutboxStatus
from sync.relay import error_text, relay_drain
from sync.stores import _collection
from taskforge.dbcontext import db_context

logger = logging.getLogger(__name__)

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
            except Exception as exc:
                logger.exception("reconciler %r failed", aggregate_type)
                report = DriftReport(aggregate_type, errors=[error_text(exc)])
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


@shared_task(name="sync.reconcile_report", ignore_result=True, time_limit=1800, soft_time_limit=1780)
def reconcile_report_task() -> dict[str, int]:
    """Hourly, report-only: log drift between PostgreSQL, MongoDB and the projections."""
    summary = {}
    for report in outbox_reconcile(fix=False):
        summary[report.aggregate_type] = report.drift
        if report.drift or report.errors:
            logger.warning(
                "sync drift %s: missing=%s orphaned=%s stale=%s errors=%s (run manage.py sync_reconcile --fix)",
                report.aggregate_type,
                report.missing,
                report.orphaned,
                report.stale,
                report.errors,
            )
        else:
            logger.info(
                "sync %s: no drift (%s source rows, %s in flight)",
                report.aggregate_type,
                report.source,
                report.in_flight,
            )
    return summary
