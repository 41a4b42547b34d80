"""Django admin for the tasks app (site admins only, taskforge.admin_site).

* Task rows, custom-field definitions and task details: read-only. Task writes go through
  tasks.services (outbox event, notifications, cache invalidation); a detail document is
  written only by the outbox from its task row, so it is edited on the task page (linked).
* Comments: moderation. A site admin hides a comment (the task page then shows "hidden by a
  moderator") or edits its text, through tasks.services.comments.comment_moderate (audited).
* Notifications: a site admin marks one read or unread (notification_admin_update, audited;
  the unread count is recomputed). Their texts come from the change that caused them.
Nothing here adds or deletes content: that would bypass the services and their audit.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from taskforge.admin_site import DocumentAdmin
from taskforge.errors import ServiceError
from tasks.models import Notification, Task, TaskComment, TaskDetail, TeamCustomField
from tasks.services.comments import comment_body_check, comment_moderate
from tasks.services.notifications import notification_admin_update


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


def _task_link(task_id: str) -> str:
    if not task_id:
        return "-"
    url = reverse("tasks:detail", kwargs={"task_id": task_id})
    return format_html('<a href="{}">{}</a> (change it on the task page)', url, task_id)


def _user_link(user_id: int | None) -> str:
    if not user_id:
        return "-"
    return format_html('<a href="{}">user {}</a>', reverse("admin:accounts_user_change", args=[user_id]), user_id)


@admin.register(TaskDetail)
class TaskDetailAdmin(DocumentAdmin):
    list_display = ("title", "id", "team_id", "version", "deleted", "updated_at")
    list_filter = ("deleted",)
    search_fields = ("title", "description")
    ordering = ("-updated_at",)
    fields = ("task", "team_id", "version", "title", "description", "tags", "custom_fields", "deleted", "updated_at")
    readonly_fields = fields

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # written only by the outbox from the task row: edit it on the task page

    @admin.display(description="Task")
    def task(self, obj: TaskDetail) -> str:
        return _task_link(obj.pk)


class CommentModerationForm(forms.ModelForm):
    class Meta:
        model = TaskComment
        fields = ("body", "hidden")

    def clean_body(self) -> str:
        try:
            return comment_body_check(self.cleaned_data.get("body") or "")
        except ServiceError as exc:
            raise ValidationError(str(exc)) from None


@admin.register(TaskComment)
class TaskCommentAdmin(DocumentAdmin):
    form = CommentModerationForm
    list_display = ("id", "task_id", "author_id", "hidden", "created_at", "edited_at")
    list_filter = ("hidden",)
    search_fields = ("body",)
    ordering = ("-created_at",)
    fields = (
        "task",
        "author",
        "body",
        "hidden",
        "mentions",
        "attachment_names",
        "created_at",
        "edited_at",
        "moderator",
        "moderated_at",
    )
    readonly_fields = ("task", "author", "mentions", "attachment_names", "created_at", "edited_at")
    readonly_fields += ("moderator", "moderated_at")

    @admin.display(description="Task")
    def task(self, obj: TaskComment) -> str:
        return _task_link(obj.task_id)

    @admin.display(description="Author")
    def author(self, obj: TaskComment) -> str:
        return _user_link(obj.author_id)

    @admin.display(description="Moderated by")
    def moderator(self, obj: TaskComment) -> str:
        return _user_link(obj.moderated_by)

    @admin.display(description="Attachments")
    def attachment_names(self, obj: TaskComment) -> str:
        return ", ".join(a.name for a in obj.attachments or []) or "-"

    def save_model(self, request: HttpRequest, obj: TaskComment, form: Any, change: bool) -> None:
        # Through the service: audited, the task page refreshed; never a bare save().
        comment_moderate(actor=request.user, comment_id=obj.pk, body=obj.body, hidden=obj.hidden)


@admin.register(Notification)
class NotificationAdmin(DocumentAdmin):
    list_display = ("id", "user_id", "kind", "read", "title", "created_at")
    list_filter = ("read", "kind")
    search_fields = ("title", "message")
    ordering = ("-created_at",)
    fields = ("person", "kind", "read", "task", "actor", "title", "message", "created_at", "read_at")
    readonly_fields = ("person", "kind", "task", "actor", "title", "message", "created_at", "read_at")

    @admin.display(description="For")
    def person(self, obj: Notification) -> str:
        return _user_link(obj.user_id)

    @admin.display(description="Task")
    def task(self, obj: Notification) -> str:
        return _task_link(obj.task_id)

    @admin.display(description="Caused by")
    def actor(self, obj: Notification) -> str:
        return _user_link(obj.actor_id)

    def save_model(self, request: HttpRequest, obj: Notification, form: Any, change: bool) -> None:
        notification_admin_update(actor=request.user, notification_id=obj.pk, read=obj.read)
