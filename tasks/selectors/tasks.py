"""One task for a person: load it (or 404), who may edit it, who watches it, its current
detail state, and one of its comments or attachments."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404

from accounts.permissions import permission_has
from sync.models import OutboxEvent
from taskforge.errors import NotFound, Unavailable
from taskforge.mongo import DocumentStoreUnavailable, document_store
from tasks.models import Attachment, Task, TaskComment, TaskDetail, TaskWatcher

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


def attachment_as_dict(attachment: Attachment) -> dict[str, Any]:
    return {
        "id": attachment.id,
        "name": attachment.name,
        "size": attachment.size,
        "content_type": attachment.content_type,
        "stored_name": attachment.stored_name,
        "uploaded_by": attachment.uploaded_by,
        "uploaded_at": attachment.uploaded_at,
    }


def detail_as_dict(detail: TaskDetail) -> dict[str, Any]:
    """A detail document as the page, the history and the next outbox event use it."""
    return {
        "_id": detail.pk,
        "team_id": detail.team_id,
        "version": detail.version,
        "title": detail.title,
        "description": detail.description,
        "tags": list(detail.tags or []),
        "custom_fields": dict(detail.custom_fields or {}),
        "attachments": [attachment_as_dict(a) for a in detail.attachments or []],
        "deleted": detail.deleted,
        "updated_at": detail.updated_at,
    }


def comment_as_dict(comment: TaskComment) -> dict[str, Any]:
    """A comment as the page shows it (cached in Redis as plain data). A hidden comment
    keeps no text or files here: the page says it was hidden by a moderator."""
    hidden = bool(comment.hidden)
    return {
        "_id": str(comment.pk),
        "cid": str(comment.pk),
        "task_id": comment.task_id,
        "team_id": comment.team_id,
        "author_id": comment.author_id,
        "body": "" if hidden else comment.body,
        "mentions": list(comment.mentions or []),
        "attachments": [] if hidden else [attachment_as_dict(a) for a in comment.attachments or []],
        "created_at": comment.created_at,
        "edited_at": comment.edited_at,
        "hidden": hidden,
    }


def task_comments_query(task_id: Any) -> QuerySet[TaskComment]:
    """A task's comments: one condition, served by the (task_id, -created_at) index."""
    return TaskComment.objects.filter(task_id=str(task_id))


def comment_load(task: Task, comment_id: Any) -> TaskComment | None:
    """A comment of this task by its ObjectId, or by the hex id it had before ObjectIds.

    Looked up by one field (the `_id` or `legacy_id` index); the task is compared here,
    not in the filter (a filter with two conditions is not served by an index locally)."""
    text = str(comment_id or "")
    try:
        query = TaskComment.objects.filter(pk=ObjectId(text))
    except (InvalidId, TypeError):
        if len(text) != 32 or not text.isalnum():
            return None
        query = TaskComment.objects.filter(legacy_id=text)
    comment = query.first()
    return comment if comment is not None and comment.task_id == str(task.id) else None


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
        with document_store():
            detail = TaskDetail.objects.filter(pk=str(task.id)).first()
    except DocumentStoreUnavailable:
        raise Unavailable(DOCUMENTS_DOWN_MESSAGE) from None
    return _detail_from(detail_as_dict(detail) if detail is not None else None)


def comment_for_change(user: Any, task: Task, comment_id: str) -> TaskComment:
    """A comment of the task that the user may edit or delete (its author, or a moderator).

    NotFound when the task has no such comment, PermissionDenied for someone else's,
    Unavailable while the document server is down."""
    try:
        with document_store():
            comment = comment_load(task, comment_id)
    except DocumentStoreUnavailable:
        raise Unavailable("Comments are unavailable right now (the document server is down).") from None
    if comment is None:
        raise NotFound("No such comment.")
    if comment.author_id != user.pk and not permission_has(user, task.team_id, "comment.moderate"):
        raise PermissionDenied("Only the author or a team admin may change this comment.")
    return comment


def attachment_for(task: Task, attachment_id: str) -> dict[str, Any] | None:
    """The metadata of a file attached to the task or to one of its comments, or None.
    Unavailable while neither the outbox nor the document server can tell."""
    try:
        detail = task_detail_current(task)
        meta = next((a for a in detail["attachments"] if a.get("id") == attachment_id), None)
        if meta is None:
            with document_store():  # a task's few comments, by the task index
                for comment in task_comments_query(task.id):
                    found = next((a for a in comment.attachments or [] if a.id == attachment_id), None)
                    if found is not None and not comment.hidden:
                        return attachment_as_dict(found)
    except Unavailable:  # DocumentStoreUnavailable included
        raise Unavailable(ATTACHMENT_DOWN_MESSAGE) from None
    return meta
