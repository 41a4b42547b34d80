"""Outbox handlers of the tasks app (imported at start-up by taskforge.apps).

* "task": the task's detail document in MongoDB (versioned upsert; a deleted task leaves a
  versioned tombstone and its comments and files are removed) and the PostgreSQL search
  projection (tsvector over title, tags and description) with its team's search
  vocabulary (typo correction, taskforge.search), keyed by the task version so replays
  and out-of-order events change nothing.
* "notification": one in-app notification document (insert once) and the unread count.

Handlers run without a user context (the relay) or in the request's (the fast path);
they never read task rows, which row-level security would hide from the relay.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from sync.handlers import outbox_handler
from sync.models import OutboxEvent
from sync.outbox import outbox_record
from sync.reconcile import Reconciler, outbox_reconciler
from sync.stores import mongo_upsert_versioned
from taskforge.mongo import documents_collection
from tasks.attachments import attachments_discard_task
from tasks.caching import caches_invalidate
from tasks.models import TASK_VOCABULARY, Task, TaskComment, TaskDetail, TaskSearch
from tasks.selectors.tasks import task_detail_current
from tasks.services.notifications import notification_apply

logger = logging.getLogger(__name__)

SEARCH_UPSERT_SQL = """
INSERT INTO tasks_task_search (task_id, team_id, version, title, body, tags, document, deleted)
VALUES (%(task_id)s, %(team_id)s, %(version)s, %(title)s, %(body)s, %(tags)s::jsonb,
        setweight(to_tsvector('english', %(title)s), 'A')
        || setweight(to_tsvector('english', %(tag_text)s), 'B')
        || setweight(to_tsvector('english', %(body)s), 'C'),
        %(deleted)s)
ON CONFLICT (task_id) DO UPDATE SET
    team_id = EXCLUDED.team_id, version = EXCLUDED.version, title = EXCLUDED.title,
    body = EXCLUDED.body, tags = EXCLUDED.tags, document = EXCLUDED.document, deleted = EXCLUDED.deleted
WHERE tasks_task_search.version < EXCLUDED.version
"""


def search_apply(task_id: str, version: int, payload: dict[str, Any]) -> None:
    """Upsert the search row if this version is newer than the stored one, and add its
    words to the team's search vocabulary."""
    deleted = bool(payload.get("deleted"))
    tags = [] if deleted else list(payload.get("tags") or [])
    team_id = payload.get("team_id") or 0
    title = "" if deleted else (payload.get("title") or "")
    body = "" if deleted else (payload.get("description") or "")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            SEARCH_UPSERT_SQL,
            {
                "task_id": task_id,
                "team_id": team_id,
                "version": version,
                "title": title,
                "body": body,
                "tags": json.dumps(tags),
                "tag_text": " ".join(tags),
                "deleted": deleted,
            },
        )
        if cursor.rowcount and not deleted and team_id:
            TASK_VOCABULARY.add(cursor, " ".join([title, *tags, body]), scope=team_id)


def _time(value: Any) -> Any:
    """A time from an event payload (JSON: ISO text) as a datetime, stored as a BSON date."""
    return dt.datetime.fromisoformat(value) if isinstance(value, str) and value else value


def detail_fields(payload: dict[str, Any]) -> dict[str, Any]:
    """The fields of a TaskDetail document (tasks.models.TaskDetail) from a "task" event."""
    deleted = bool(payload.get("deleted"))
    attachments = [] if deleted else [dict(a) for a in payload.get("attachments") or []]
    for attachment in attachments:
        attachment["uploaded_at"] = _time(attachment.get("uploaded_at"))
    return {
        "team_id": payload.get("team_id"),
        "title": payload.get("title") or "",
        "description": "" if deleted else payload.get("description") or "",
        "tags": [] if deleted else list(payload.get("tags") or []),
        "custom_fields": {} if deleted else dict(payload.get("custom_fields") or {}),
        "attachments": attachments,
        "deleted": deleted,
        "updated_at": timezone.now(),
    }


@outbox_handler("task")
def task_apply(event: OutboxEvent) -> None:
    payload = event.payload or {}
    task_id = str(event.aggregate_id)
    search_apply(task_id, event.version, payload)
    # The relay's version-guarded upsert: a plain filter document on the backend's collection.
    mongo_upsert_versioned(documents_collection(TaskDetail), task_id, event.version, detail_fields(payload))
    if payload.get("deleted"):
        TaskComment.objects.filter(task_id=task_id).delete()
        attachments_discard_task(task_id)
    # The page, the dashboards and the team's board/list (tags) may show this document.
    team_id = payload.get("team_id")
    caches_invalidate(task_ids=[task_id], team_ids=[team_id] if team_id else [])


@outbox_handler("notification")
def notification_apply_event(event: OutboxEvent) -> None:
    notification_apply(notification_id=str(event.aggregate_id), payload=event.payload or {})


@outbox_reconciler("task")
class TaskReconciler(Reconciler):
    """`manage.py sync_reconcile --type task`: task rows against their detail documents and
    search rows, compared by the row's detail_version (board moves do not touch the document).

    Re-emitting takes the newest known detail state (the latest outbox event of the task, or
    the document itself once applied events were purged) at the row's detail_version.
    """

    source_model = Task
    source_version_field = "detail_version"
    document_collection = "task_details"
    document_id = str
    projection_model = TaskSearch
    projection_deleted_field = "deleted"

    def reemit(self, ids: list[str]) -> int:
        count = 0
        for task in Task.objects.filter(id__in=ids):
            with transaction.atomic():
                detail = task_detail_current(task)
                outbox_record(
                    aggregate_type="task",
                    aggregate_id=str(task.id),
                    version=task.detail_version,
                    event_type="task.reemitted",
                    payload={"team_id": task.team_id, "title": task.title, **detail, "deleted": False},
                )
            count += 1
        return count
