"""Django admin (read-only) for the backup register."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils import timezone
from django.utils.timesince import timesince

from backups.models import BackupRecord


class ReadOnlyAdmin(admin.ModelAdmin):
    """Logs are written by the jobs only; admins browse them."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(BackupRecord)
class BackupRecordAdmin(ReadOnlyAdmin):
    list_display = ("started_at", "path", "slot", "status", "size_bytes", "finished_at", "verify_ok", "verified_age")
    list_filter = ("status", "verify_ok")
    search_fields = ("path", "slot")
    fields = (
        "path",
        "slot",
        "status",
        "started_at",
        "finished_at",
        "size_bytes",
        "manifest_sha256",
        "error",
        "verified_at",
        "verify_ok",
        "verify_result",
    )

    @admin.display(description="verified")
    def verified_age(self, obj: BackupRecord) -> str:
        if obj.verified_at is None:
            return "never"
        return f"{timesince(obj.verified_at, timezone.now())} ago"
