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
from tasks import documents as task_documents
from tasks.models import Task, TaskWatcher

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
                "id": c["_id"],
                "task_id": c.get("task_id"),
                "body": c.get("body"),
                "created_at": c.get("created_at"),
                "edited_at": c.get("edited_at"),
                "attachments": [a.get("name") for a in c.get("attachments") or []],
            }
            for c in task_documents.comments().find({"author_id": user.pk}).sort("created_at", 1)
        ]
    )
    notifications = mongo_or_unavailable(
        lambda: [
            {k: v for k, v in n.items() if k != "_id"} | {"id": n["_id"]}
            for n in task_documents.notifications().find({"user_id": user.pk}).sort("created_at", 1)
        ]
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
        for doc in task_documents.comments().find({"author_id": subject.user_id}, {"body": 1}):
            body = doc.get("body") or ""
            scrubbed = scrub_text(body, subject)
            if scrubbed != body:
                comments.append({"id": doc["_id"], "set": {"body": scrubbed}})
        caused = []
        for doc in task_documents.notifications().find({"actor_id": subject.user_id}, {"message": 1}):
            message = doc.get("message") or ""
            scrubbed = scrub_text(message, subject)
            if scrubbed != message:
                caused.append({"id": doc["_id"], "set": {"message": scrubbed}})
        own = len(list(task_documents.notifications().find({"user_id": subject.user_id}, {"_id": 1})))
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
    notifications = task_documents.notifications()
    comments = task_documents.comments()
    notifications.delete_many({"user_id": user_id})
    # The id AND the person: a document re-used or re-assigned meanwhile is left alone.
    for change in payload.get("comments") or []:
        comments.update_one({"_id": change["id"], "author_id": user_id}, {"$set": change["set"]})
    for change in payload.get("notifications") or []:
        notifications.update_one({"_id": change["id"], "actor_id": user_id}, {"$set": change["set"]})


exporter_register("tasks", tasks_export)
eraser_register("tasks", tasks_erase)
