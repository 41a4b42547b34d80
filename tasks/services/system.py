"""Writes the system makes on a team's board on behalf of another part of the product (no
person acts: e.g. a departure's checklist becomes tasks when it gets its first confirmed
booking, and its open tasks close when the departure is cancelled).

Called by outbox handlers (the relay's system context, where row-level security lets the
system see every team's tasks), inside the caller's transaction. They do what
`task_create` and `task_move` do (row, detail event, business event, board event), without
the permission checks that a person's request needs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from bson import ObjectId
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from audit.services import audit_content_record
from sync.events import business_event_record
from taskforge.mongo import document_store
from tasks.caching import caches_invalidate
from tasks.models import Task, TaskComment, TaskPriority, TaskStatus
from tasks.services.comments import comment_audit_view
from tasks.services.tasks import TITLE_MAX, _detail_record, board_event_on_commit, task_event_data


@dataclass(frozen=True)
class _System:
    """The actor of system writes in board events: nobody."""

    pk: None = None


SYSTEM = _System()


def _invalidate_on_commit(task: Task) -> None:
    task_id, team_id = task.id, task.team_id
    transaction.on_commit(lambda: caches_invalidate(task_ids=[task_id], team_ids=[team_id], user_ids=set()))


def task_create_system(*, team_id: int, title: str, description: str, due_at: dt.datetime | None) -> Task:
    """A task the system puts on a team's board (To do, medium priority, nobody assigned)."""
    now = timezone.now()
    task = Task.objects.create(
        team_id=team_id,
        title=title[:TITLE_MAX],
        status=TaskStatus.TODO,
        priority=TaskPriority.MEDIUM,
        creator_id=None,
        due_at=due_at,
        updated_at=now,
        version=1,
    )
    detail = {"description": description, "tags": [], "custom_fields": {}, "attachments": []}
    _detail_record(task, old=None, new=detail)
    business_event_record(
        event_type="task.created",
        team_id=task.team_id,
        data={**task_event_data(task), "tags": [], "description": description},
    )
    _invalidate_on_commit(task)
    board_event_on_commit(task, "task.created", actor=SYSTEM)
    return task


def task_close_system(*, task_id: object, comment: str) -> bool:
    """Move an open task to Done with a comment saying why (the comment's author is nobody).
    Returns False when the task is gone or already done (nothing to do)."""
    task = Task.objects.select_for_update().filter(id=task_id).first()
    if task is None or task.status == TaskStatus.DONE:
        return False
    old_status = task.status
    now = timezone.now()
    Task.objects.filter(id=task.id).update(
        status=TaskStatus.DONE, updated_at=now, done_at=now, version=F("version") + 1
    )
    task.status, task.updated_at, task.done_at, task.version = TaskStatus.DONE, now, now, task.version + 1
    business_event_record(
        event_type="task.moved", team_id=task.team_id, data={**task_event_data(task), "previous_status": old_status}
    )
    note = TaskComment(
        id=ObjectId(),
        task_id=str(task.id),
        team_id=task.team_id,
        author_id=None,
        body=comment,
        mentions=[],
        attachments=[],
        created_at=now,
    )
    audit_content_record(
        table="task_comment", record_id=task.id, operation="INSERT", old=None, new=comment_audit_view(note)
    )
    _invalidate_on_commit(task)
    board_event_on_commit(task, "task.moved", actor=SYSTEM, old_status=old_status)
    with document_store():  # last: a failure rolls the move back and the caller retries it
        note.save(force_insert=True)
    return True
