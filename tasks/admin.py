"""Django admin for the tasks app: read-only views of task rows and custom-field definitions.

Task writes must go through tasks.services (outbox event, notifications, cache invalidation),
so the admin does not add, change or delete tasks.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from tasks.models import Task, TeamCustomField


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Task)
class TaskAdmin(ReadOnlyAdmin):
    list_display = ("title", "team", "status", "priority", "assignee", "due_at", "version", "updated_at")
    list_filter = ("status", "priority", "team")
    search_fields = ("title",)
    list_select_related = ("team", "assignee")
    ordering = ("-updated_at",)


@admin.register(TeamCustomField)
class TeamCustomFieldAdmin(ReadOnlyAdmin):
    list_display = ("team", "key", "label", "field_type", "required", "position")
    list_filter = ("field_type", "team")
