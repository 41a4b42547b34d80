"""Django admin (read-only) for the email delivery log."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from mail.models import EmailDelivery


class ReadOnlyAdmin(admin.ModelAdmin):
    """Logs are written by the jobs only; admins browse them."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(EmailDelivery)
class EmailDeliveryAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "recipient", "kind", "subject", "status", "attempts", "sent_at", "short_error")
    list_filter = ("status", "kind", "created_at")
    search_fields = ("recipient", "subject", "idempotency_key", "message_id")
    date_hierarchy = "created_at"
    list_select_related = False
    show_full_result_count = False  # the log grows; skip the extra COUNT(*)
    fields = (
        "recipient",
        "user",
        "kind",
        "subject",
        "status",
        "attempts",
        "last_error",
        "idempotency_key",
        "message_id",
        "created_at",
        "next_attempt_at",
        "claimed_at",
        "sent_at",
    )
    raw_id_fields = ("user",)

    @admin.display(description="last error")
    def short_error(self, obj: EmailDelivery) -> str:
        return (obj.last_error[:80] + "…") if len(obj.last_error) > 80 else obj.last_error
