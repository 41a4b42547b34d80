"""Every write of the tasks app: tasks, custom fields, watchers, attachments, comments,
notifications. Keyword-only arguments, one transaction each, side effects after commit.

Placement (DESIGN.md): the task row is PostgreSQL; its detail (description, tags,
custom-field values, attachment metadata) is a MongoDB document written through the
outbox in the same transaction as the row, with the full document state as payload.
Comments are MongoDB-only content: they are written straight to MongoDB as the last step
of a PostgreSQL transaction that holds their audit row and notification events, so a
failed document write rolls everything back and the user gets a clear 503.

Notifications are outbox events too ("notification" aggregate): recorded with the change,
applied right after commit (MongoDB document + Redis unread count), guaranteed by the relay.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from pymongo.errors import DuplicateKeyError

from accounts.models import Membership, Team
from accounts.permissions import permission_has, permission_require
from accounts.selectors import notification_preferences
from audit.services import audit_content_record
from mail.delivery import mail_notification
from sync.models import OutboxEvent
from sync.outbox import outbox_record
from taskforge.errors import Conflict, NotFound, ServiceError, Unavailable
from taskforge.mongo import MongoUnavailable
from tasks import documents
from tasks.attachments import AttachmentRejected, StoredAttachment, attachment_discard, attachment_store
from tasks.caching import caches_invalidate, unread_forget, unread_incr, unread_set
from tasks.customfields import custom_choices_parse, custom_values_clean
from tasks.models import CustomFieldType, Task, TaskPriority, TaskStatus, TaskWatcher, TeamCustomField
from tasks.rendering import mention_handles
from tasks.selectors.tasks import (
    comment_for_change,
    task_can_edit,
    task_detail_current,
    task_id_parse,
    task_watcher_ids,
)
from tasks.selectors.teams import team_members

logger = logging.getLogger(__name__)

TITLE_MAX = 200
DESCRIPTION_MAX = 20_000
COMMENT_MAX = 10_000
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


# --- helpers --------------------------------------------------------------------------------------


def _task_load(actor: Any, task_id: Any, *, lock: bool = False) -> Task:
    """The task if the actor may see it (RLS + task.view), else NotFound (a 404: outsiders
    learn nothing about other teams' tasks)."""
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


def _require_edit(actor: Any, task: Task) -> None:
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


def _custom_fields_check(team_id: int, raw: Mapping[str, Any] | None) -> dict[str, Any]:
    definitions = list(TeamCustomField.objects.filter(team_id=team_id))
    clean, errors = custom_values_clean(definitions, raw or {})
    if errors:
        raise ServiceError(
            "Some custom fields are not valid.", errors={f"cf_{key}": message for key, message in errors.items()}
        )
    return clean


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


def _watchers_add(task_id: Any, user_ids: Iterable[int | None]) -> None:
    rows = [TaskWatcher(task_id=task_id, user_id=uid) for uid in {u for u in user_ids if u}]
    if rows:
        TaskWatcher.objects.bulk_create(rows, ignore_conflicts=True)


def _invalidate_on_commit(task: Task, *user_ids: int | None) -> None:
    users = {u for u in (task.creator_id, task.assignee_id, *user_ids) if u}
    task_id, team_id = task.id, task.team_id
    transaction.on_commit(lambda: caches_invalidate(task_ids=[task_id], team_ids=[team_id], user_ids=users))


def _invalidate_page_on_commit(task: Task) -> None:
    """After a comment write: only the task page shows comments (boards and dashboards are
    built from task rows, so their caches stay: a comment does not re-render the team's board)."""
    task_id = task.id
    transaction.on_commit(lambda: caches_invalidate(task_ids=[task_id]))


# --- notifications --------------------------------------------------------------------------------

NOTIFICATION_KINDS = {
    "task_assigned": "assigned you",
    "task_mentioned": "mentioned you",
    "task_status": "changed the status",
    "task_comment": "commented",
    "task_due_soon": "is due within 24 hours",
    "task_overdue": "is overdue",
}


def notification_email_hook(*, notification_id: str, user_id: int, kind: str, summary: str, url: str) -> None:
    """Email side of a notification: hands it to mail.delivery (the user's email preference and
    cadence decide there). Runs inside the caller's transaction; never breaks it."""
    try:
        with transaction.atomic():
            mail_notification(
                user_id=user_id, kind=kind, summary=summary, url=url, idempotency_key=f"notif:{notification_id}"
            )
    except Exception:
        logger.warning("could not queue the email for notification %s", notification_id, exc_info=True)


def _notify(
    *,
    recipients: Iterable[int | None],
    kind: str,
    task: Task,
    actor_id: int | None,
    message: str,
    notification_ids: Mapping[int, str] | None = None,
) -> list[str]:
    """Record one notification per recipient (never the actor) in the current transaction."""
    now = timezone.now()
    created = []
    for user_id in sorted({r for r in recipients if r and r != actor_id}):
        notification_id = (notification_ids or {}).get(user_id) or uuid.uuid4().hex
        payload = {
            "user_id": user_id,
            "kind": kind,
            "task_id": str(task.id),
            "team_id": task.team_id,
            "actor_id": actor_id,
            "title": task.title,
            "message": message,
            "created_at": now.isoformat(),
        }
        outbox_record(
            aggregate_type="notification",
            aggregate_id=notification_id,
            version=1,
            event_type="notification.created",
            payload=payload,
        )
        notification_email_hook(
            notification_id=notification_id,
            user_id=user_id,
            kind=kind,
            summary=f"{task.title}: {message}",
            url=f"/tasks/{task.id}/",
        )
        created.append(notification_id)
    return created


def _actor_name(actor: Any) -> str:
    return (getattr(actor, "display_name", "") or getattr(actor, "email", "") or "Someone").strip()


# --- tasks ----------------------------------------------------------------------------------------


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
        clean_custom = _custom_fields_check(team_id, custom_fields)
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
        _watchers_add(task.id, [actor.pk, assignee])
        if assignee:
            _notify(
                recipients=[assignee],
                kind="task_assigned",
                task=task,
                actor_id=actor.pk,
                message=f"{_actor_name(actor)} assigned you this task",
            )
        _invalidate_on_commit(task)
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
        task = _task_load(actor, task_id)
        _require_edit(actor, task)
        title, description, due_at = _fields_check(
            title=title, description=description, status=status, priority=priority, due_at=due_at
        )
        tag_list = tags_clean(tags)
        new_assignee = _assignee_check(task.team_id, assignee_id)
        if new_assignee != task.assignee_id:
            permission_require(actor, task.team_id, "task.assign")
        if status != task.status and status not in STATUS_TRANSITIONS[task.status]:
            raise ServiceError(_transition_message(task.status, status), errors={"status": "Not allowed from here."})
        clean_custom = _custom_fields_check(task.team_id, custom_fields)
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
        _after_change(actor, task, old_status=old_status, old_assignee=old_assignee)
        _invalidate_on_commit(task, old_assignee)
    return task


def _transition_message(old: str, new: str) -> str:
    labels = dict(TaskStatus.choices)
    allowed = ", ".join(str(labels[s]) for s in TaskStatus.values if s in STATUS_TRANSITIONS[old])
    return (
        f"A task cannot move from {labels[old]} to {labels.get(new, new)}. From {labels[old]} it can go to: {allowed}."
    )


def _after_change(actor: Any, task: Task, *, old_status: str, old_assignee: int | None) -> None:
    if task.assignee_id and task.assignee_id != old_assignee:
        _watchers_add(task.id, [task.assignee_id])
        _notify(
            recipients=[task.assignee_id],
            kind="task_assigned",
            task=task,
            actor_id=actor.pk,
            message=f"{_actor_name(actor)} assigned you this task",
        )
    if task.status != old_status:
        labels = dict(TaskStatus.choices)
        recipients = task_watcher_ids(task.id) | {task.creator_id}
        _notify(
            recipients=recipients,
            kind="task_status",
            task=task,
            actor_id=actor.pk,
            message=f"{_actor_name(actor)} moved it from {labels[old_status]} to {labels[task.status]}",
        )


def task_move(*, actor: Any, task_id: Any, status: str, expected_version: int) -> tuple[Task, str]:
    """Move a card to another column (one status change, optimistic lock). Returns (task, old status)."""
    with transaction.atomic():
        task = _task_load(actor, task_id)
        _require_edit(actor, task)
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
        _after_change(actor, task, old_status=old_status, old_assignee=task.assignee_id)
        _invalidate_on_commit(task)
    return task, old_status


def task_delete(*, actor: Any, task_id: Any) -> None:
    """Delete the row; a versioned tombstone event removes the document, comments and files."""
    with transaction.atomic():
        task = _task_load(actor, task_id, lock=True)
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
        _invalidate_on_commit(task)
        Task.objects.filter(id=task.id).delete()


def task_watch_set(*, actor: Any, task_id: Any, watch: bool) -> bool:
    with transaction.atomic():
        task = _task_load(actor, task_id)
        if watch:
            _watchers_add(task.id, [actor.pk])
        else:
            TaskWatcher.objects.filter(task_id=task.id, user_id=actor.pk).delete()
    return watch


def task_attachment_add(*, actor: Any, task_id: Any, upload: Any) -> dict[str, Any]:
    """Store a file and add its metadata to the task's detail (a new document version)."""
    task = _task_load(actor, task_id)
    _require_edit(actor, task)
    try:
        stored = attachment_store(upload, task_id=str(task.id))
    except AttachmentRejected as exc:
        raise ServiceError(str(exc), errors={"file": str(exc)}) from None
    try:
        with transaction.atomic():
            task = _task_load(actor, task_id, lock=True)
            now = timezone.now()
            old_detail = task_detail_current(task)
            meta = stored.as_doc(uploaded_by=actor.pk, uploaded_at=now.isoformat())
            new_detail = {**old_detail, "attachments": [*old_detail["attachments"], meta]}
            Task.objects.filter(id=task.id).update(
                version=F("version") + 1, detail_version=F("version") + 1, updated_at=now
            )
            task.version += 1
            _detail_record(task, old=old_detail, new=new_detail)
            _invalidate_on_commit(task)
    except BaseException:
        attachment_discard(str(task.id), stored.stored_name)
        raise
    return meta


# --- custom fields --------------------------------------------------------------------------------


def custom_field_save(
    *,
    actor: Any,
    team_id: int,
    key: str,
    label: str,
    field_type: str,
    choices: Any = "",
    required: bool = False,
    field_id: int | None = None,
) -> TeamCustomField:
    """Create or change one of the team's custom-field definitions (team admins: team.manage)."""
    if not Team.objects.filter(id=team_id).exists() or not permission_has(actor, team_id, "task.view"):
        raise NotFound("No such team.")
    permission_require(actor, team_id, "team.manage")
    errors: dict[str, str] = {}
    key = (key or "").strip().lower()
    label = (label or "").strip()
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,39}", key):
        errors["key"] = "Use a short key: lower-case letters, digits and _, starting with a letter."
    if not label or len(label) > 80:
        errors["label"] = "A label of at most 80 characters is required."
    if field_type not in CustomFieldType.values:
        errors["field_type"] = "Choose text, number, date or choice."
    choice_list = custom_choices_parse(choices) if isinstance(choices, str) else [str(c) for c in choices or []]
    if field_type == CustomFieldType.CHOICE and not choice_list:
        errors["choices"] = "A choice field needs at least one choice."
    if errors:
        raise ServiceError("Please correct the custom field.", errors=errors)
    with transaction.atomic():
        duplicate = TeamCustomField.objects.filter(team_id=team_id, key=key)
        if field_id is not None:
            duplicate = duplicate.exclude(id=field_id)
        if duplicate.exists():
            raise ServiceError("That key is taken.", errors={"key": "Another field of this team uses that key."})
        if field_id is None:
            position = TeamCustomField.objects.filter(team_id=team_id).count()
            field = TeamCustomField.objects.create(
                team_id=team_id,
                key=key,
                label=label,
                field_type=field_type,
                choices=choice_list if field_type == CustomFieldType.CHOICE else [],
                required=bool(required),
                position=position,
            )
        else:
            field = TeamCustomField.objects.filter(team_id=team_id, id=field_id).first()
            if field is None:
                raise NotFound("No such custom field.")
            field.key, field.label, field.field_type, field.required = key, label, field_type, bool(required)
            field.choices = choice_list if field_type == CustomFieldType.CHOICE else []
            field.save(update_fields=["key", "label", "field_type", "choices", "required"])
    return field


def custom_field_delete(*, actor: Any, team_id: int, field_id: int) -> None:
    if not permission_has(actor, team_id, "task.view"):
        raise NotFound("No such team.")
    permission_require(actor, team_id, "team.manage")
    with transaction.atomic():
        deleted, _ = TeamCustomField.objects.filter(team_id=team_id, id=field_id).delete()
        if not deleted:
            raise NotFound("No such custom field.")


# --- comments -------------------------------------------------------------------------------------


def mentions_resolve(team_id: int, text: str) -> tuple[list[int], list[str]]:
    """(member ids, handles) mentioned in a text; only members of the team count."""
    handles = mention_handles(text)
    if not handles:
        return [], []
    members = team_members(team_id)
    by_email = {m["email"].lower(): m for m in members}
    by_handle: dict[str, list[dict[str, Any]]] = {}
    for m in members:
        by_handle.setdefault(m["handle"], []).append(m)
    ids: list[int] = []
    found: list[str] = []
    for handle in handles:
        member = by_email.get(handle) if "@" in handle else None
        if member is None and "@" not in handle and len(by_handle.get(handle, [])) == 1:
            member = by_handle[handle][0]
        if member is not None and member["id"] not in ids:
            ids.append(member["id"])
            found.append(handle)
    return ids, found


def _comment_body_check(body: str) -> str:
    body = (body or "").strip()
    if not body:
        raise ServiceError("A comment cannot be empty.", errors={"body": "Write something first."})
    if len(body) > COMMENT_MAX:
        raise ServiceError("The comment is too long.", errors={"body": f"At most {COMMENT_MAX:,} characters."})
    return body


def _comment_audit_view(doc: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "comment_id": doc["_id"],
        "author_id": doc.get("author_id"),
        "body": doc.get("body"),
        "mentions": doc.get("mentions") or [],
        "attachments": [a.get("name") for a in doc.get("attachments") or []],
    }


def comment_create(*, actor: Any, task_id: Any, body: str, upload: Any = None) -> dict[str, Any]:
    """Add a comment (MongoDB), audited and with its notifications in one PostgreSQL transaction."""
    task = _task_load(actor, task_id)
    permission_require(actor, task.team_id, "comment.create")
    body = _comment_body_check(body)
    mention_ids, _ = mentions_resolve(task.team_id, body)
    stored: StoredAttachment | None = None
    if upload is not None:
        try:
            stored = attachment_store(upload, task_id=str(task.id))
        except AttachmentRejected as exc:
            raise ServiceError(str(exc), errors={"file": str(exc)}) from None
    now = timezone.now()
    doc = {
        "_id": uuid.uuid4().hex,
        "task_id": str(task.id),
        "team_id": task.team_id,
        "author_id": actor.pk,
        "body": body,
        "mentions": mention_ids,
        "attachments": [stored.as_doc(uploaded_by=actor.pk, uploaded_at=now.isoformat())] if stored else [],
        "created_at": now,
        "edited_at": None,
    }
    try:
        with transaction.atomic():
            audit_content_record(
                table="task_comment", record_id=task.id, operation="INSERT", old=None, new=_comment_audit_view(doc)
            )
            watchers = task_watcher_ids(task.id)
            _watchers_add(task.id, [actor.pk])
            name = _actor_name(actor)
            _notify(
                recipients=mention_ids,
                kind="task_mentioned",
                task=task,
                actor_id=actor.pk,
                message=f"{name} mentioned you in a comment",
            )
            _notify(
                recipients=watchers - set(mention_ids),
                kind="task_comment",
                task=task,
                actor_id=actor.pk,
                message=f"{name} commented",
            )
            _invalidate_page_on_commit(task)
            try:  # last step: a failure here rolls back the audit row and the notifications
                documents.comments().insert_one(doc)
            except MongoUnavailable:
                raise Unavailable(
                    "Comments are unavailable right now (the document server is down). Your comment was "
                    "not saved; please try again in a minute."
                ) from None
    except BaseException:
        if stored:
            attachment_discard(str(task.id), stored.stored_name)
        raise
    return doc


def comment_update(*, actor: Any, task_id: Any, comment_id: str, body: str) -> dict[str, Any]:
    task = _task_load(actor, task_id)
    doc = comment_for_change(actor, task, comment_id)
    body = _comment_body_check(body)
    mention_ids, _ = mentions_resolve(task.team_id, body)
    # An ISO string, not a datetime: nx-27017 stores a datetime given to $set as text
    # (see tasks/tests/test_conformance_tasks.py), so both engines get the same string.
    now = timezone.now().isoformat()
    new_doc = {**doc, "body": body, "mentions": mention_ids, "edited_at": now}
    with transaction.atomic():
        audit_content_record(
            table="task_comment",
            record_id=task.id,
            operation="UPDATE",
            old=_comment_audit_view(doc),
            new=_comment_audit_view(new_doc),
        )
        newly = set(mention_ids) - set(doc.get("mentions") or [])
        _notify(
            recipients=newly,
            kind="task_mentioned",
            task=task,
            actor_id=actor.pk,
            message=f"{_actor_name(actor)} mentioned you in a comment",
        )
        _invalidate_page_on_commit(task)
        try:
            documents.comments().update_one(
                {"_id": doc["_id"]}, {"$set": {"body": body, "mentions": mention_ids, "edited_at": now}}
            )
        except MongoUnavailable:
            raise Unavailable("Comments are unavailable right now; your edit was not saved.") from None
    return new_doc


def comment_delete(*, actor: Any, task_id: Any, comment_id: str) -> None:
    task = _task_load(actor, task_id)
    doc = comment_for_change(actor, task, comment_id)
    with transaction.atomic():
        audit_content_record(
            table="task_comment", record_id=task.id, operation="DELETE", old=_comment_audit_view(doc), new=None
        )
        _invalidate_page_on_commit(task)
        try:
            documents.comments().delete_one({"_id": doc["_id"]})
        except MongoUnavailable:
            raise Unavailable("Comments are unavailable right now; nothing was deleted.") from None
        files = [a.get("stored_name") for a in doc.get("attachments") or [] if a.get("stored_name")]
        task_key = str(task.id)
        transaction.on_commit(lambda: [attachment_discard(task_key, name) for name in files])


# --- notifications: reading state -----------------------------------------------------------------


def notification_mark_read(*, user: Any, notification_id: str) -> bool:
    try:
        result = documents.notifications().update_one(
            {"_id": str(notification_id), "user_id": user.pk, "state": "unread"},
            {"$set": {"state": "read", "read_at": timezone.now().isoformat()}},
        )
        if not result.modified_count and not documents.notifications().find_one(
            {"_id": str(notification_id), "user_id": user.pk}, {"_id": 1}
        ):
            raise NotFound("No such notification.")  # someone else's, or none at all
    except MongoUnavailable:
        raise Unavailable("Notifications are unavailable right now.") from None
    if result.modified_count:
        unread_forget(user.pk)  # recomputed on the next read
    return bool(result.modified_count)


def notifications_mark_task_read(*, user: Any, task_id: Any) -> int:
    """Opening a task reads the user's notifications about it; returns how many were unread.

    The unread count in Redis is dropped when any changed (recomputed on the bell's next read,
    like notification_mark_read), so the bell follows without a second source of truth."""
    try:
        result = documents.notifications().update_many(
            {"user_id": user.pk, "task_id": str(task_id), "state": "unread"},
            {"$set": {"state": "read", "read_at": timezone.now().isoformat()}},
        )
    except MongoUnavailable:
        raise Unavailable("Notifications are unavailable right now.") from None
    if result.modified_count:
        unread_forget(user.pk)
    return result.modified_count


def notifications_mark_all_read(*, user: Any) -> int:
    try:
        result = documents.notifications().update_many(
            {"user_id": user.pk, "state": "unread"},
            {"$set": {"state": "read", "read_at": timezone.now().isoformat()}},
        )
    except MongoUnavailable:
        raise Unavailable("Notifications are unavailable right now.") from None
    unread_set(user.pk, 0)
    return result.modified_count


def notifications_due_scan(*, now: dt.datetime | None = None) -> int:
    """Notify assignees (or creators) of open tasks due within 24 hours, and of overdue ones.

    Runs from beat (notifications.due_scan) as a system job. Notification ids are derived
    from (kind, task, due time), so repeated scans never notify twice for the same deadline.
    Returns how many notifications were recorded.
    """
    now = now or timezone.now()
    soon = now + dt.timedelta(hours=24)
    tasks = list(
        Task.objects.filter(due_at__isnull=False, due_at__lte=soon)
        .exclude(status=TaskStatus.DONE)
        .only("id", "team_id", "title", "assignee_id", "creator_id", "due_at")
        .order_by("due_at")[:5000]
    )
    planned: list[tuple[Task, str, int, str]] = []
    for task in tasks:
        recipient = task.assignee_id or task.creator_id
        if not recipient:
            continue
        kind = "task_overdue" if task.due_at <= now else "task_due_soon"
        stamp = int(task.due_at.timestamp())
        planned.append((task, kind, recipient, f"{kind}-{task.id.hex}-{stamp}-{recipient}"))
    if not planned:
        return 0
    ids = [p[3] for p in planned]
    try:
        existing = {d["_id"] for d in documents.notifications().find({"_id": {"$in": ids}}, {"_id": 1})}
    except MongoUnavailable:
        logger.warning("due scan skipped: the document server is unavailable")
        return 0
    existing |= set(
        OutboxEvent.objects.filter(aggregate_type="notification", aggregate_id__in=ids).values_list(
            "aggregate_id", flat=True
        )
    )
    count = 0
    with transaction.atomic():
        for task, kind, recipient, notification_id in planned:
            if notification_id in existing:
                continue
            due = timezone.localtime(task.due_at).strftime("%d %b %H:%M")
            message = f"Overdue since {due}" if kind == "task_overdue" else f"Due {due} (within 24 hours)"
            count += len(
                _notify(
                    recipients=[recipient],
                    kind=kind,
                    task=task,
                    actor_id=None,
                    message=message,
                    notification_ids={recipient: notification_id},
                )
            )
    return count


def notification_apply(*, notification_id: str, payload: Mapping[str, Any]) -> bool:
    """Outbox handler body: create the notification document once and count it unread.

    Respects the person's in-app preference (in_app_enabled).
    Returns True when a document was created.
    """
    user_id = int(payload["user_id"])
    if not in_app_enabled(user_id):
        return False
    created_at = dt.datetime.fromisoformat(payload["created_at"])
    doc = {
        "_id": notification_id,
        "user_id": user_id,
        "kind": payload.get("kind", ""),
        "state": "unread",
        "task_id": payload.get("task_id"),
        "team_id": payload.get("team_id"),
        "actor_id": payload.get("actor_id"),
        "title": payload.get("title", ""),
        "message": payload.get("message", ""),
        "created_at": created_at,
        "read_at": None,
    }
    try:
        documents.notifications().insert_one(doc)
    except DuplicateKeyError:
        return False  # already applied (a replay)
    unread_incr(user_id)
    return True


def in_app_enabled(user_id: int) -> bool:
    """The person's in-app notification preference; on while it cannot be read (a missed
    in-app notice is worse than an unwanted one, and it is never sent anywhere)."""
    prefs = notification_preferences(user_id)
    return True if prefs is None else prefs.in_app
