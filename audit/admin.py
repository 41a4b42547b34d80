"""Django admin: the audit log and its archive, read-only, under row-level security.

The admin's requests carry the admin's database context (DatabaseContextMiddleware),
so the rows come through the same RLS policy as the audit browser; nobody can add,
change or delete an entry here (and the application role could not anyway).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from audit.models import AuditLog, AuditLogArchive


class AuditReadOnlyAdmin(admin.ModelAdmin):
    """Browse only; site admins only."""

    list_display = (
        "created_at",
        "table_name",
        "record_id",
        "operation",
        "user_id",
        "actor_role",
        "ip_address",
        "sealed",
        "history",
    )
    list_filter = ("operation",)
    # Exact matches only: each one uses an index, a LIKE over the log would not.
    search_fields = ("=table_name", "=record_id", "=request_id", "=user_id")
    ordering = ("-created_at", "-id")
    show_full_result_count = False
    list_per_page = 50

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in self.model._meta.fields]

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_authenticated and request.user.is_site_admin

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="sealed", boolean=True)
    def sealed(self, obj: AuditLog) -> bool:
        return obj.seal_seq is not None

    @admin.display(description="history")
    def history(self, obj: AuditLog) -> str:
        if not obj.record_id:
            return "-"
        return format_html('<a href="{}">history</a>', reverse("audit:history", args=[obj.table_name, obj.record_id]))


admin.site.register(AuditLog, AuditReadOnlyAdmin)
admin.site.register(AuditLogArchive, AuditReadOnlyAdmin)
