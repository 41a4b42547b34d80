"""The tasks app's part of "Download my data" and "Delete my account", through the
registry the accounts app owns (accounts/export.py; this module is imported by
AccountsConfig.ready).

* Export: the tasks the person created or is assigned (also of teams they have left, read
  through `elevated_read`), what they watch, their comments and their notifications.
* Erasure: inside the erasure's transaction the watch list goes and the changes to the
  documents are planned (MongoDB is read, by id) and recorded as outbox events; after the
  commit `erasure_apply` (registered here as the events' applier) deletes the person's
  notifications and writes the already-scrubbed texts. Every step is idempotent.
"""

from __future__ import annotations

from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from django.db.models import Q

from accounts.export import (
    ERASURE_AGGREGATE,
    ErasureSubject,
    elevated_read,
    eraser_register,
    exporter_register,
    mongo_or_unavailable,
    scrub_text,
)
from sync.handlers import outbox_handler
from sync.models import OutboxEvent
from sync.outbox import outbox_record
from tasks.models import Notification, Task, TaskComment, TaskWatcher

ERASURE_CHUNK = 500  # documents per outbox event


def tasks_export(user: Any) -> dict[str, Any]:
    with elevated_read():  # tasks of teams they have left are theirs too; read-only, own id only
        tasks = [
            {
                "id": str(t.id),
                "team": t.team.name,
                "title": t.title,
                "status": t.status,
                "priority": t.priority,
                "due_at": t.due_at,
                "created_at": t.created_at,
                "created_by_me": t.creator_id == user.pk,
                "assigned_to_me": t.assignee_id == user.pk,
            }
            for t in Task.objects.filter(Q(creator_id=user.pk) | Q(assignee_id=user.pk)).select_related("team")
        ]
        watched = [str(t) for t in TaskWatcher.objects.filter(user_id=user.pk).values_list("task_id", flat=True)]
    comments = mongo_or_unavailable(
        lambda: [
            {
                "id": str(c.pk),
                "task_id": c.task_id,
                "body": c.body,
                "created_at": c.created_at,
                "edited_at": c.edited_at,
                "attachments": [a.name for a in c.attachments or []],
            }
            for c in TaskComment.objects.filter(author_id=user.pk).order_by("created_at")
        ]
    )
    notifications = mongo_or_unavailable(
        lambda: list(
            Notification.objects.filter(user_id=user.pk)
            .order_by("created_at")
            .values("id", "kind", "read", "task_id", "team_id", "actor_id", "title", "message", "created_at", "read_at")
        )
    )
    return {"tasks": tasks, "watching": watched, "comments": comments, "notifications": notifications}


def tasks_erase(subject: ErasureSubject) -> dict[str, int]:
    """Own notifications go; own comments stay under the pseudonym with the person's names
    and email taken out of them; notifications their actions caused lose their name.
    Everything is found by id (author_id, user_id, actor_id); other people's comments are
    left as written.

    MongoDB is read here (to plan the change; down = the whole erasure is refused, to be
    tried again) and written only after the commit, by the outbox event recorded here.
    """
    counts = {"watching": TaskWatcher.objects.filter(user_id=subject.user_id).delete()[0]}

    def plan() -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
        comments = []
        for pk, body in TaskComment.objects.filter(author_id=subject.user_id).values_list("pk", "body"):
            scrubbed = scrub_text(body or "", subject)
            if scrubbed != (body or ""):
                comments.append({"id": str(pk), "set": {"body": scrubbed}})
        caused = []
        for pk, message in Notification.objects.filter(actor_id=subject.user_id).values_list("pk", "message"):
            scrubbed = scrub_text(message or "", subject)
            if scrubbed != (message or ""):
                caused.append({"id": pk, "set": {"message": scrubbed}})
        own = Notification.objects.filter(user_id=subject.user_id).count()
        return comments, caused, own

    comments, caused, own = mongo_or_unavailable(plan)
    chunks = max(1, -(-max(len(comments), len(caused)) // ERASURE_CHUNK))
    for index in range(chunks):
        window = slice(index * ERASURE_CHUNK, (index + 1) * ERASURE_CHUNK)
        outbox_record(
            aggregate_type=ERASURE_AGGREGATE,
            aggregate_id=str(subject.user_id),
            version=index + 1,
            event_type="personal_data.erased",
            # No personal data: ids, and texts that already had the person taken out.
            payload={"user_id": subject.user_id, "comments": comments[window], "notifications": caused[window]},
        )
    counts.update(comments_scrubbed=len(comments), notifications_deleted=own, notifications_scrubbed=len(caused))
    return counts


@outbox_handler(ERASURE_AGGREGATE)
def erasure_apply(event: OutboxEvent) -> None:
    """After the erasure's commit: the person's notifications go, the planned texts are written."""
    payload = event.payload or {}
    user_id = int(payload["user_id"])
    comment_changes = {str(c["id"]): c["set"] for c in payload.get("comments") or []}
    notification_changes = {c["id"]: c["set"] for c in payload.get("notifications") or []}
    Notification.objects.filter(user_id=user_id).delete()
    # The id AND the person: a document re-used or re-assigned meanwhile is left alone.
    # (Found by id, one condition each; the person is compared here.)
    for pk, key, author_id in _comments_by_id(list(comment_changes)):
        if author_id == user_id:
            TaskComment.objects.filter(pk=pk).update(**_only(comment_changes[key], {"body"}))
    caused = Notification.objects.filter(pk__in=list(notification_changes)).values_list("pk", "actor_id")
    for pk, actor_id in caused:
        if actor_id == user_id:
            Notification.objects.filter(pk=pk).update(**_only(notification_changes[pk], {"message"}))


def _comments_by_id(ids: list[str]) -> list[tuple[ObjectId, str, int | None]]:
    """(pk, the id as planned, author) of comments planned by ObjectId, or by the hex id they
    had before ObjectIds (an event planned before tasks migration 0007 converted them)."""
    object_ids, legacy = [], []
    for value in ids:
        try:
            object_ids.append(ObjectId(value))
        except InvalidId:
            legacy.append(value)
    found = [
        (pk, str(pk), author)
        for pk, author in TaskComment.objects.filter(pk__in=object_ids).values_list("pk", "author_id")
    ]
    if legacy:
        found += list(TaskComment.objects.filter(legacy_id__in=legacy).values_list("pk", "legacy_id", "author_id"))
    return found


def _only(fields: dict[str, Any], allowed: set[str]) -> dict[str, Any]:
    """The planned fields, never anything else an event might carry."""
    return {name: value for name, value in fields.items() if name in allowed}


exporter_register("tasks", tasks_export)
eraser_register("tasks", tasks_erase)
