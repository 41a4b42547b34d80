"""Writes of tasks: create, edit, move on the board, delete, watch, attach a file.

The task row is PostgreSQL; its detail (description, tags, custom-field values, attachment
metadata) is a MongoDB document written through the outbox in the same transaction as the
row, with the full document state as payload.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import Membership, Team
from accounts.permissions import permission_has, permission_require
from audit.services import audit_content_record
from sync.events import business_event_record
from sync.outbox import outbox_record
from taskforge.errors import Conflict, NotFound, ServiceError
from taskforge.live import KIND_BOARD, live_publish_on_commit, team_channel
from tasks.attachments import AttachmentRejected, attachment_discard, attachment_store
from tasks.caching import caches_invalidate
from tasks.models import Task, TaskPriority, TaskStatus, TaskWatcher
from tasks.selectors.tasks import task_can_edit, task_detail_current, task_id_parse, task_watcher_ids
from tasks.services.custom_fields import custom_values_check
from tasks.services.notifications import actor_name, notifications_record

TITLE_MAX = 200
DESCRIPTION_MAX = 20_000
TAGS_MAX = 20
TAG_MAX_LEN = 40
_TAG_RE = re.compile(r"^[\w][\w +#/-]*$", re.UNICODE)

# Which status changes make sense. Anything else is refused with a clear message.
STATUS_TRANSITIONS: dict[str, frozenset[str]] = {
    TaskStatus.BACKLOG: frozenset({TaskStatus.TODO, TaskStatus.IN_PROGRESS}),
    TaskStatus.TODO: frozenset({TaskStatus.BACKLOG, TaskStatus.IN_PROGRESS, TaskStatus.DONE}),
    TaskStatus.IN_PROGRESS: frozenset({TaskStatus.TODO, TaskStatus.IN_REVIEW, TaskStatus.DONE}),
    TaskStatus.IN_REVIEW: frozenset({TaskStatus.IN_PROGRESS, TaskStatus.DONE}),
    TaskStatus.DONE: frozenset({TaskStatus.TODO, TaskStatus.IN_REVIEW}),
}
ASSIGNABLE_ROLES = ("admin", "member")

STALE_MESSAGE = (
    "This task was changed by someone else since you opened it. Nothing was saved: "
    "reload the page to see their changes, then make yours again."
)


def task_load(actor: Any, task_id: Any, *, lock: bool = False) -> Task:
    """The task a write works on, if the actor may see it (RLS + task.view), else NotFound (a
    404: outsiders learn nothing about other teams' tasks); `lock` holds the row until commit."""
    parsed = task_id_parse(task_id)
    if parsed is None:
        raise NotFound("No such task.")
    qs = Task.objects.filter(id=parsed)
    if lock:
        qs = qs.select_for_update(of=("self",))
    task = qs.first()
    if task is None or not permission_has(actor, task.team_id, "task.view"):
        raise NotFound("No such task.")
    return task


def task_edit_require(actor: Any, task: Task) -> None:
    """PermissionDenied unless the actor may edit the task (see task_can_edit)."""
    if not task_can_edit(actor, task):
        raise PermissionDenied("You may not change this task.")


def _assignee_check(team_id: int, assignee_id: Any) -> int | None:
    if assignee_id in (None, ""):
        return None
    try:
        assignee_id = int(assignee_id)
    except (TypeError, ValueError):
        raise ServiceError("The assignee is not valid.", errors={"assignee": "Choose a member of the team."}) from None
    role = Membership.objects.filter(team_id=team_id, user_id=assignee_id).values_list("role", flat=True).first()
    if role is None:
        raise ServiceError(
            "The assignee must be a member of this team.", errors={"assignee": "That person is not in this team."}
        )
    if role not in ASSIGNABLE_ROLES:
        raise ServiceError(
            "Guests cannot be assigned tasks (they have read-only access).",
            errors={"assignee": "Guests cannot be assigned tasks."},
        )
    return assignee_id


def tags_clean(raw: Any) -> list[str]:
    """Tags from a list or a comma-separated string: trimmed, lower-case, unique, validated."""
    items = raw.split(",") if isinstance(raw, str) else list(raw or [])
    tags: dict[str, None] = {}
    for item in items:
        tag = str(item).strip().lower()
        if not tag:
            continue
        if len(tag) > TAG_MAX_LEN or not _TAG_RE.match(tag):
            raise ServiceError(
                f"Invalid tag {tag[:50]!r}.",
                errors={"tags": f"Tags are words of at most {TAG_MAX_LEN} characters (letters, digits, - _ / # +)."},
            )
        tags.setdefault(tag, None)
    if len(tags) > TAGS_MAX:
        raise ServiceError("Too many tags.", errors={"tags": f"At most {TAGS_MAX} tags."})
    return list(tags)


def _fields_check(
    *, title: str, description: str, status: str, priority: str, due_at: Any
) -> tuple[str, str, dt.datetime | None]:
    errors: dict[str, str] = {}
    title = (title or "").strip()
    if not title:
        errors["title"] = "A title is required."
    elif len(title) > TITLE_MAX:
        errors["title"] = f"At most {TITLE_MAX} characters."
    description = description or ""
    if len(description) > DESCRIPTION_MAX:
        errors["description"] = f"At most {DESCRIPTION_MAX:,} characters."
    if status not in TaskStatus.values:
        errors["status"] = f"Unknown status {str(status)[:30]!r}."
    if priority not in TaskPriority.values:
        errors["priority"] = f"Unknown priority {str(priority)[:30]!r}."
    if due_at is not None and not isinstance(due_at, dt.datetime):
        errors["due_at"] = "The due date is not a date and time."
    elif due_at is not None and timezone.is_naive(due_at):
        due_at = timezone.make_aware(due_at, dt.UTC)
    if errors:
        raise ServiceError("Please correct the highlighted fields.", errors=errors)
    return title, description, due_at


def _detail_empty() -> dict[str, Any]:
    return {"description": "", "tags": [], "custom_fields": {}, "attachments": []}


def _detail_record(task: Task, *, old: dict[str, Any] | None, new: dict[str, Any]) -> None:
    """Outbox event with the full document state at task.version (+ content audit when it changed).

    The caller has set the row's detail_version to task.version in the same transaction.
    """
    task.detail_version = task.version
    payload = {"team_id": task.team_id, "title": task.title, **new, "deleted": False}
    outbox_record(
        aggregate_type="task",
        aggregate_id=str(task.id),
        version=task.version,
        event_type="task.upserted",
        payload=payload,
    )
    if old != new:
        audit_content_record(
            table="task_detail", record_id=task.id, operation="INSERT" if old is None else "UPDATE", old=old, new=new
        )


def task_event_data(task: Task) -> dict[str, Any]:
    """A task as business events (webhooks) describe it: the row's fields, no detail document."""
    return {
        "id": str(task.id),
        "team_id": task.team_id,
        "title": task.title,
        "status": task.status,
        "priority": task.priority,
        "assignee_id": task.assignee_id,
        "creator_id": task.creator_id,
        "due_at": task.due_at,
        "done_at": task.done_at,
        "updated_at": task.updated_at,
        "version": task.version,
    }


def watchers_add(task_id: Any, user_ids: Iterable[int | None]) -> None:
    """Make these people watch the task (those who already do are left as they are)."""
    rows = [TaskWatcher(task_id=task_id, user_id=uid) for uid in {u for u in user_ids if u}]
    if rows:
        TaskWatcher.objects.bulk_create(rows, ignore_conflicts=True)


def board_event_on_commit(task: Task, event_type: str, *, actor: Any, old_status: str | None = None) -> None:
    """Tell the team's open boards (live events) after commit; call it after the write's cache
    invalidations so a board that re-fetches on the event reads the new state."""
    data = {
        "type": event_type,
        "task_id": str(task.id),
        "team_id": task.team_id,
        "status": task.status,
        "old_status": old_status or task.status,
        "version": task.version,
        "actor_id": actor.pk,
    }
    live_publish_on_commit(team_channel(task.team_id), KIND_BOARD, data)


def _invalidate_on_commit(task: Task, *user_ids: int | None) -> None:
    users = {u for u in (task.creator_id, task.assignee_id, *user_ids) if u}
    task_id, team_id = task.id, task.team_id
    transaction.on_commit(lambda: caches_invalidate(task_ids=[task_id], team_ids=[team_id], user_ids=users))


def task_create(
    *,
    actor: Any,
    team_id: int,
    title: str,
    description: str = "",
    status: str = TaskStatus.TODO,
    priority: str = TaskPriority.MEDIUM,
    assignee_id: int | None = None,
    due_at: dt.datetime | None = None,
    tags: Any = (),
    custom_fields: Mapping[str, Any] | None = None,
) -> Task:
    """Create a task: the row, its detail event (outbox) and notifications, in one transaction."""
    if not Team.objects.filter(id=team_id).exists() or not permission_has(actor, team_id, "task.view"):
        raise NotFound("No such team.")
    permission_require(actor, team_id, "task.create")
    title, description, due_at = _fields_check(
        title=title, description=description, status=status, priority=priority, due_at=due_at
    )
    tag_list = tags_clean(tags)
    with transaction.atomic():
        assignee = _assignee_check(team_id, assignee_id)
        if assignee and assignee != actor.pk:
            permission_require(actor, team_id, "task.assign")
        clean_custom = custom_values_check(team_id, custom_fields)
        now = timezone.now()
        task = Task.objects.create(
            team_id=team_id,
            title=title,
            status=status,
            priority=priority,
            assignee_id=assignee,
            creator_id=actor.pk,
            due_at=due_at,
            updated_at=now,
            done_at=now if status == TaskStatus.DONE else None,
            version=1,
        )
        detail = {"description": description, "tags": tag_list, "custom_fields": clean_custom, "attachments": []}
        _detail_record(task, old=None, new=detail)
        business_event_record(
            event_type="task.created",
            team_id=task.team_id,
            data={**task_event_data(task), "tags": tag_list, "description": description},
        )
        watchers_add(task.id, [actor.pk, assignee])
        if assignee:
            notifications_record(
                recipients=[assignee],
                kind="task_assigned",
                task=task,
                actor_id=actor.pk,
                message=f"{actor_name(actor)} assigned you this task",
            )
        _invalidate_on_commit(task)
        board_event_on_commit(task, "task.created", actor=actor)
    return task


def task_update(
    *,
    actor: Any,
    task_id: Any,
    expected_version: int,
    title: str,
    description: str,
    status: str,
    priority: str,
    assignee_id: int | None,
    due_at: dt.datetime | None,
    tags: Any,
    custom_fields: Mapping[str, Any] | None,
) -> Task:
    """Full edit. Refused (Conflict) when the task changed since `expected_version`."""
    with transaction.atomic():
        task = task_load(actor, task_id)
        task_edit_require(actor, task)
        title, description, due_at = _fields_check(
            title=title, description=description, status=status, priority=priority, due_at=due_at
        )
        tag_list = tags_clean(tags)
        new_assignee = _assignee_check(task.team_id, assignee_id)
        if new_assignee != task.assignee_id:
            permission_require(actor, task.team_id, "task.assign")
        if status != task.status and status not in STATUS_TRANSITIONS[task.status]:
            raise ServiceError(_transition_message(task.status, status), errors={"status": "Not allowed from here."})
        clean_custom = custom_values_check(task.team_id, custom_fields)
        if task.version != expected_version:
            raise Conflict(STALE_MESSAGE)
        now = timezone.now()
        old_status, old_assignee = task.status, task.assignee_id
        done_at = task.done_at
        if status != old_status:
            done_at = now if status == TaskStatus.DONE else None
        updated = Task.objects.filter(id=task.id, version=expected_version).update(
            title=title,
            status=status,
            priority=priority,
            assignee_id=new_assignee,
            due_at=due_at,
            updated_at=now,
            done_at=done_at,
            version=F("version") + 1,
            detail_version=F("version") + 1,
        )
        if updated != 1:
            raise Conflict(STALE_MESSAGE)
        task.title, task.status, task.priority, task.assignee_id = title, status, priority, new_assignee
        task.due_at, task.updated_at, task.done_at, task.version = due_at, now, done_at, expected_version + 1
        old_detail = task_detail_current(task)
        new_detail = {
            "description": description,
            "tags": tag_list,
            "custom_fields": clean_custom,
            "attachments": old_detail["attachments"],
        }
        _detail_record(task, old=old_detail, new=new_detail)
        business_event_record(
            event_type="task.updated",
            team_id=task.team_id,
            data={**task_event_data(task), "previous_status": old_status, "tags": tag_list, "description": description},
        )
        _after_change(actor, task, old_status=old_status, old_assignee=old_assignee)
        _invalidate_on_commit(task, old_assignee)
        board_event_on_commit(task, "task.edited", actor=actor, old_status=old_status)
    return task


def _transition_message(old: str, new: str) -> str:
    labels = dict(TaskStatus.choices)
    allowed = ", ".join(str(labels[s]) for s in TaskStatus.values if s in STATUS_TRANSITIONS[old])
    return (
        f"A task cannot move from {labels[old]} to {labels.get(new, new)}. From {labels[old]} it can go to: {allowed}."
    )


def _after_change(actor: Any, task: Task, *, old_status: str, old_assignee: int | None) -> None:
    if task.assignee_id and task.assignee_id != old_assignee:
        watchers_add(task.id, [task.assignee_id])
        notifications_record(
            recipients=[task.assignee_id],
            kind="task_assigned",
            task=task,
            actor_id=actor.pk,
            message=f"{actor_name(actor)} assigned you this task",
        )
    if task.status != old_status:
        labels = dict(TaskStatus.choices)
        recipients = task_watcher_ids(task.id) | {task.creator_id}
        notifications_record(
            recipients=recipients,
            kind="task_status",
            task=task,
            actor_id=actor.pk,
            message=f"{actor_name(actor)} moved it from {labels[old_status]} to {labels[task.status]}",
        )


def task_move(*, actor: Any, task_id: Any, status: str, expected_version: int) -> tuple[Task, str]:
    """Move a card to another column (one status change, optimistic lock). Returns (task, old status)."""
    with transaction.atomic():
        task = task_load(actor, task_id)
        task_edit_require(actor, task)
        if status not in TaskStatus.values:
            raise ServiceError(f"Unknown status {str(status)[:30]!r}.")
        if task.version != expected_version:
            raise Conflict(STALE_MESSAGE)
        old_status = task.status
        if status == old_status:
            return task, old_status
        if status not in STATUS_TRANSITIONS[old_status]:
            raise ServiceError(_transition_message(old_status, status))
        now = timezone.now()
        done_at = now if status == TaskStatus.DONE else None
        updated = Task.objects.filter(id=task.id, version=expected_version).update(
            status=status, updated_at=now, done_at=done_at, version=F("version") + 1
        )
        if updated != 1:
            raise Conflict(STALE_MESSAGE)
        task.status, task.updated_at, task.done_at, task.version = status, now, done_at, expected_version + 1
        business_event_record(
            event_type="task.moved",
            team_id=task.team_id,
            data={**task_event_data(task), "previous_status": old_status},
        )
        _after_change(actor, task, old_status=old_status, old_assignee=task.assignee_id)
        _invalidate_on_commit(task)
        board_event_on_commit(task, "task.moved", actor=actor, old_status=old_status)
    return task, old_status


def task_delete(*, actor: Any, task_id: Any) -> None:
    """Delete the row; a versioned tombstone event removes the document, comments and files."""
    with transaction.atomic():
        task = task_load(actor, task_id, lock=True)
        permission_require(actor, task.team_id, "task.delete")
        old_detail = task_detail_current(task)
        tombstone_version = task.version + 1
        outbox_record(
            aggregate_type="task",
            aggregate_id=str(task.id),
            version=tombstone_version,
            event_type="task.deleted",
            payload={"team_id": task.team_id, "title": task.title, **_detail_empty(), "deleted": True},
        )
        audit_content_record(table="task_detail", record_id=task.id, operation="DELETE", old=old_detail, new=None)
        business_event_record(
            event_type="task.deleted",
            team_id=task.team_id,
            data={"id": str(task.id), "team_id": task.team_id, "title": task.title, "deleted_by": actor.pk},
        )
        _invalidate_on_commit(task)
        board_event_on_commit(task, "task.deleted", actor=actor)
        Task.objects.filter(id=task.id).delete()


def task_watch_set(*, actor: Any, task_id: Any, watch: bool) -> bool:
    with transaction.atomic():
        task = task_load(actor, task_id)
        if watch:
            watchers_add(task.id, [actor.pk])
        else:
            TaskWatcher.objects.filter(task_id=task.id, user_id=actor.pk).delete()
    return watch


def task_attachment_add(*, actor: Any, task_id: Any, upload: Any) -> dict[str, Any]:
    """Store a file and add its metadata to the task's detail (a new document version)."""
    task = task_load(actor, task_id)
    task_edit_require(actor, task)
    try:
        stored = attachment_store(upload, task_id=str(task.id))
    except AttachmentRejected as exc:
        raise ServiceError(str(exc), errors={"file": str(exc)}) from None
    try:
        with transaction.atomic():
            task = task_load(actor, task_id, lock=True)
            now = timezone.now()
            old_detail = task_detail_current(task)
            meta = stored.as_doc(uploaded_by=actor.pk, uploaded_at=now.isoformat())
            new_detail = {**old_detail, "attachments": [*old_detail["attachments"], meta]}
            Task.objects.filter(id=task.id).update(
                version=F("version") + 1, detail_version=F("version") + 1, updated_at=now
            )
            task.version += 1
            task.updated_at = now
            _detail_record(task, old=old_detail, new=new_detail)
            business_event_record(
                event_type="task.updated",
                team_id=task.team_id,
                data={**task_event_data(task), "previous_status": task.status, "attachment_added": meta.get("name")},
            )
            _invalidate_on_commit(task)
            board_event_on_commit(task, "task.edited", actor=actor)
    except BaseException:
        attachment_discard(str(task.id), stored.stored_name)
        raise
    return meta
