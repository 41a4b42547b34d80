"""One task for a person: load it (or 404), who may edit it, who watches it, its current
detail state, and one of its comments or attachments."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404

from accounts.permissions import permission_has
from sync.models import OutboxEvent
from taskforge.errors import NotFound, Unavailable
from taskforge.mongo import MongoUnavailable
from tasks import documents
from tasks.models import Task, TaskWatcher

DOCUMENTS_DOWN_MESSAGE = (
    "The document server is unavailable right now, so this could not be saved. Nothing was "
    "changed; please try again in a minute."
)
ATTACHMENT_DOWN_MESSAGE = "The document server is unavailable right now; please try again in a minute."


def task_id_parse(value: Any) -> uuid.UUID | None:
    """A task id from a URL or a form, or None when it is not one."""
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        return None


def task_for_user(user: Any, task_id: Any) -> Task:
    """The task with its team, assignee and creator, if the user may see it; Http404 otherwise
    (outsiders learn nothing about other teams' tasks)."""
    parsed = task_id_parse(task_id)
    task = None
    if parsed is not None:
        task = Task.objects.select_related("team", "assignee", "creator").filter(id=parsed).first()
    if task is None or not permission_has(user, task.team_id, "task.view"):
        raise Http404("No such task.")
    return task


def task_can_edit(user: Any, task: Task) -> bool:
    """Team admins (task.edit_any) edit everything; members (task.edit_own) their own tasks."""
    if permission_has(user, task.team_id, "task.edit_any"):
        return True
    return permission_has(user, task.team_id, "task.edit_own") and user.pk in (task.creator_id, task.assignee_id)


def task_watcher_ids(task_id: Any) -> set[int]:
    return set(TaskWatcher.objects.filter(task_id=task_id).values_list("user_id", flat=True))


def task_watched_by(task_id: Any, user_id: int) -> bool:
    return TaskWatcher.objects.filter(task_id=task_id, user_id=user_id).exists()


def _detail_from(source: Mapping[str, Any] | None) -> dict[str, Any]:
    source = source or {}
    return {
        "description": source.get("description") or "",
        "tags": list(source.get("tags") or []),
        "custom_fields": dict(source.get("custom_fields") or {}),
        "attachments": [dict(a) for a in (source.get("attachments") or [])],
    }


def task_detail_current(task: Task) -> dict[str, Any]:
    """The newest known detail state of a task, to build the next full-state event.

    The newest outbox event of the task carries it (even while the document server is
    down or the relay lags); applied events may have been pruned, and then the document
    itself is current. Raises Unavailable if neither can be read.
    """
    event = (
        OutboxEvent.objects.filter(aggregate_type="task", aggregate_id=str(task.id))
        .order_by("-version", "-id")
        .values("payload")
        .first()
    )
    if event is not None:
        return _detail_from(event["payload"])
    try:
        doc = documents.details().find_one({"_id": str(task.id)})
    except MongoUnavailable:
        raise Unavailable(DOCUMENTS_DOWN_MESSAGE) from None
    return _detail_from(doc)


def comment_for_change(user: Any, task: Task, comment_id: str) -> dict[str, Any]:
    """A comment of the task that the user may edit or delete (its author, or a moderator).

    NotFound when the task has no such comment, PermissionDenied for someone else's,
    Unavailable while the document server is down."""
    try:
        doc = documents.comments().find_one({"_id": str(comment_id), "task_id": str(task.id)})
    except MongoUnavailable:
        raise Unavailable("Comments are unavailable right now (the document server is down).") from None
    if doc is None:
        raise NotFound("No such comment.")
    if doc.get("author_id") != user.pk and not permission_has(user, task.team_id, "comment.moderate"):
        raise PermissionDenied("Only the author or a team admin may change this comment.")
    return doc


def attachment_for(task: Task, attachment_id: str) -> dict[str, Any] | None:
    """The metadata of a file attached to the task or to one of its comments, or None.
    Unavailable while neither the outbox nor the document server can tell."""
    try:
        detail = task_detail_current(task)
        meta = next((a for a in detail["attachments"] if a.get("id") == attachment_id), None)
        if meta is None:
            doc = documents.comments().find_one(
                {"task_id": str(task.id), "attachments": {"$elemMatch": {"id": attachment_id}}}
            )
            if doc is not None:
                meta = next((a for a in doc["attachments"] if a.get("id") == attachment_id), None)
    except (Unavailable, MongoUnavailable):
        raise Unavailable(ATTACHMENT_DOWN_MESSAGE) from None
    return meta
