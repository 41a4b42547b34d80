"""Django admin (read-only) for the outbox: browse pending events and dead letters, retry them.

The same figures and actions exist as `manage.py sync_status` / `sync_retry`.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from sync.models import OutboxEvent, OutboxStatus
from sync.status import outbox_retry_dead


@admin.register(OutboxEvent)
class OutboxEventAdmin(admin.ModelAdmin):
    """Events are written by services and the relay only; admins look and retry dead letters."""

    list_display = ("id", "aggregate_type", "aggregate_id", "version", "event_type", "status", "attempts",
                    "created_at", "applied_at", "lag_ms", "short_error")  # fmt: skip
    list_filter = ("status", "aggregate_type")
    search_fields = ("aggregate_id",)
    ordering = ("-id",)
    show_full_result_count = False  # the table is large; counting it on every page is slow
    actions = ("retry_dead_letters",)

    @admin.display(description="last error")
    def short_error(self, obj: OutboxEvent) -> str:
        return (obj.last_error[:80] + "...") if len(obj.last_error) > 80 else obj.last_error

    @admin.action(description="Move selected dead letters back to pending")
    def retry_dead_letters(self, request: HttpRequest, queryset: QuerySet[OutboxEvent]) -> None:
        ids = list(queryset.filter(status=OutboxStatus.DEAD).values_list("id", flat=True))
        moved = outbox_retry_dead(ids=ids) if ids else 0
        self.message_user(request, f"{moved} dead letters moved back to pending.", messages.SUCCESS)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
