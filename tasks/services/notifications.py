"""In-app notifications: recorded as outbox events with the change that causes them ("notification"
aggregate), applied right after commit (MongoDB document + Redis unread count) and guaranteed
by the relay; read state; the due-date scan (a Celery job) and the email side (mail.delivery).
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from celery import shared_task
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Capability, User
from accounts.permissions import capability_has
from accounts.selectors import notification_preferences
from audit.services import audit_content_record
from mail.delivery import mail_notification
from sync.models import OutboxEvent
from sync.outbox import outbox_record
from taskforge.dbcontext import context_for_system, db_context
from taskforge.errors import NotFound, Unavailable
from taskforge.live import KIND_BELL, live_publish_on_commit, user_channel
from taskforge.mongo import DocumentStoreUnavailable, document_store, documents_collection
from tasks.caching import unread_forget, unread_incr, unread_set
from tasks.models import Notification, Task, TaskStatus
from tasks.selectors.notifications import unread_filter

logger = logging.getLogger(__name__)

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


def notifications_record(
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
            url=task.get_absolute_url(),
        )
        created.append(notification_id)
    return created


def bell_event_on_commit(user_id: int) -> None:
    """The person's bell count changed: their open pages re-read it (live event after commit)."""
    live_publish_on_commit(user_channel(user_id), KIND_BELL, {"type": "bell", "user_id": user_id})


def actor_name(actor: User) -> str:
    """How a notification names the person who acted."""
    return (actor.display_name or actor.email or "Someone").strip()


def notification_mark_read(*, user: Any, notification_id: str) -> bool:
    """Mark one of the person's notifications read; False if it already was. NotFound for
    someone else's (or none). Found by its id alone (the `_id` index), the owner checked here."""
    try:
        with document_store():
            notification = Notification.objects.filter(pk=str(notification_id)).first()
            if notification is None or notification.user_id != user.pk:
                raise NotFound("No such notification.")  # someone else's, or none at all
            if notification.read:
                return False
            changed = Notification.objects.filter(pk=notification.pk, read=False).update(
                read=True, read_at=timezone.now()
            )
    except DocumentStoreUnavailable:
        raise Unavailable("Notifications are unavailable right now.") from None
    if changed:
        unread_forget(user.pk)  # recomputed on the next read
        bell_event_on_commit(user.pk)
    return bool(changed)


def notifications_mark_task_read(*, user: Any, task_id: Any) -> int:
    """Opening a task reads the user's notifications about it; returns how many were unread.

    On every task page: a plain filter document through pymongo (three conditions; the
    (task_id, user_id, read) index serves it). The unread count in Redis is dropped when
    any changed (recomputed on the bell's next read, like notification_mark_read)."""
    try:
        with document_store():
            result = documents_collection(Notification).update_many(
                {**unread_filter(user.pk), "task_id": str(task_id)},
                {"$set": {"read": True, "read_at": timezone.now()}},
            )
    except DocumentStoreUnavailable:
        raise Unavailable("Notifications are unavailable right now.") from None
    if result.modified_count:
        unread_forget(user.pk)
        bell_event_on_commit(user.pk)
    return result.modified_count


def notifications_mark_all_read(*, user: Any) -> int:
    try:
        with document_store():
            changed = Notification.objects.filter(user_id=user.pk, read=False).update(read=True, read_at=timezone.now())
    except DocumentStoreUnavailable:
        raise Unavailable("Notifications are unavailable right now.") from None
    unread_set(user.pk, 0)
    if changed:
        bell_event_on_commit(user.pk)
    return changed


def notification_admin_update(*, actor: Any, notification_id: str, read: bool) -> Notification:
    """A site admin (the Django admin) marks a notification read or unread: audited
    ("notification"), and the person's unread count is recomputed."""
    if not capability_has(actor, Capability.SITE_ADMIN):
        raise PermissionDenied("Only site admins change notifications here.")
    try:
        with document_store():
            notification = Notification.objects.filter(pk=str(notification_id)).first()
    except DocumentStoreUnavailable:
        raise Unavailable("Notifications are unavailable right now.") from None
    if notification is None:
        raise NotFound("No such notification.")
    if notification.read == bool(read):
        return notification
    old = {"read": notification.read, "read_at": notification.read_at}
    notification.read = bool(read)
    notification.read_at = timezone.now() if read else None
    with transaction.atomic():
        audit_content_record(
            table="notification",
            record_id=notification.pk,
            operation="UPDATE",
            old=old,
            new={"read": notification.read, "read_at": notification.read_at},
        )
        user_id = notification.user_id
        transaction.on_commit(lambda: unread_forget(user_id))
        bell_event_on_commit(user_id)
        try:
            with document_store():
                Notification.objects.filter(pk=notification.pk).update(
                    read=notification.read, read_at=notification.read_at
                )
        except DocumentStoreUnavailable:
            raise Unavailable("Notifications are unavailable right now.") from None
    return notification


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
        with document_store():
            existing = set(Notification.objects.filter(pk__in=ids).values_list("pk", flat=True))
    except DocumentStoreUnavailable:
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
                notifications_record(
                    recipients=[recipient],
                    kind=kind,
                    task=task,
                    actor_id=None,
                    message=message,
                    notification_ids={recipient: notification_id},
                )
            )
    return count


@shared_task(name="notifications.due_scan", ignore_result=True, time_limit=300, soft_time_limit=280)
def due_scan() -> int:
    """notifications_due_scan from beat, every 15 minutes.

    A system job: it acts with the system role so row-level security lets it see every
    team's tasks (like manage.py seed_demo). It writes no task rows, only notifications.
    """
    with db_context(context_for_system("celery notifications.due_scan")):
        return notifications_due_scan()


def notification_apply(*, notification_id: str, payload: Mapping[str, Any]) -> bool:
    """Outbox handler body: create the notification document once and count it unread.

    Respects the person's in-app preference (in_app_enabled).
    Returns True when a document was created.
    """
    user_id = int(payload["user_id"])
    if not in_app_enabled(user_id):
        return False
    notification = Notification(
        id=notification_id,
        user_id=user_id,
        kind=payload.get("kind", ""),
        read=False,
        task_id=payload.get("task_id") or "",
        team_id=payload.get("team_id"),
        actor_id=payload.get("actor_id"),
        title=payload.get("title", ""),
        message=payload.get("message", ""),
        # Notifications of other apps (bookings) link to their own page instead of a task.
        url=payload.get("url") or "",
        created_at=dt.datetime.fromisoformat(payload["created_at"]),
    )
    try:
        notification.save(force_insert=True)
    except IntegrityError:
        return False  # already applied (a replay): the id is the outbox aggregate id
    unread_incr(user_id)
    bell_event_on_commit(user_id)
    return True


def in_app_enabled(user_id: int) -> bool:
    """The person's in-app notification preference; on while it cannot be read (a missed
    in-app notice is worse than an unwanted one, and it is never sent anywhere)."""
    prefs = notification_preferences(user_id)
    return True if prefs is None else prefs.in_app
