"""Reads of the audit log. They run under row-level security: only an admin context sees rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Max, QuerySet

from audit.diff import DiffRow, changed_fields, diff_rows, unchanged_count
from audit.models import AuditChainHead, AuditLog, AuditLogArchive
from audit.schema import table_label

HISTORY_LIMIT = 500


@dataclass
class AuditFilters:
    table: str = ""
    record: str = ""
    user_id: int | None = None
    operation: str = ""
    start: datetime | None = None
    end: datetime | None = None
    source: str = "live"


def _model(source: str) -> type[AuditLog] | type[AuditLogArchive]:
    return AuditLogArchive if source == "archive" else AuditLog


def audit_entries(filters: AuditFilters) -> QuerySet[Any]:
    """Newest first; each filter uses an index (table+record, user+time, time)."""
    qs = _model(filters.source).objects.all()
    if filters.table:
        qs = qs.filter(table_name=filters.table)
    if filters.record:
        qs = qs.filter(record_id=filters.record)
    if filters.user_id is not None:
        qs = qs.filter(user_id=filters.user_id)
    if filters.operation:
        qs = qs.filter(operation=filters.operation)
    if filters.start:
        qs = qs.filter(created_at__gte=filters.start)
    if filters.end:
        qs = qs.filter(created_at__lt=filters.end)
    return qs.order_by("-created_at", "-id")


def audit_entry_get(*, entry_id: int, source: str = "live") -> AuditLog | AuditLogArchive | None:
    return _model(source).objects.filter(pk=entry_id).first()


def audit_history(*, tables: list[str], record_id: str) -> list[AuditLog | AuditLogArchive]:
    """Every entry of one record (live and archived), newest first."""
    rows: list[Any] = []
    for model in (AuditLog, AuditLogArchive):
        rows += list(
            model.objects.filter(table_name__in=tables, record_id=record_id).order_by("-created_at", "-id")[
                :HISTORY_LIMIT
            ]
        )
    rows.sort(key=lambda r: (r.created_at, r.id), reverse=True)
    return rows[:HISTORY_LIMIT]


@dataclass
class EntryView:
    """An audit row ready for a template: actor, what the table holds in words, and the
    field-level diff (only the changed fields of an update)."""

    entry: Any
    actor: Any
    diff: list[DiffRow]
    changed: list[str]
    table_label: str = ""
    unchanged: int = 0


def entry_views(entries: list[Any], *, with_diff: bool = True) -> list[EntryView]:
    """Attach actors (one query for the page) and diffs."""
    ids = {e.user_id for e in entries if e.user_id is not None}
    actors = get_user_model().objects.in_bulk(list(ids)) if ids else {}
    views = []
    for e in entries:
        diff = diff_rows(e.old_values, e.new_values) if with_diff else []
        views.append(
            EntryView(
                e,
                actors.get(e.user_id),
                diff,
                changed_fields(e.old_values, e.new_values),
                table_label=table_label(e.table_name),
                unchanged=unchanged_count(e.old_values, e.new_values) if with_diff else 0,
            )
        )
    return views


@dataclass
class ChainStatus:
    head_seq: int
    head_hash: str
    unsealed: int
    archived: int


def chain_status() -> ChainStatus:
    head = AuditChainHead.objects.filter(pk=1).first()
    return ChainStatus(
        head_seq=head.seal_seq if head else 0,
        head_hash=head.row_hash if head else "",
        unsealed=AuditLog.objects.filter(seal_seq__isnull=True).count(),
        # The archive is a prefix of the chain starting at 1, so its top seal_seq is its size.
        archived=AuditLogArchive.objects.aggregate(top=Max("seal_seq"))["top"] or 0,
    )
