"""Writes of comments (with @mentions and an optional file).

Comments are MongoDB-only content: they are written straight to MongoDB as the last step
of a PostgreSQL transaction that holds their audit row and notification events, so a
failed document write rolls everything back and the person gets a clear 503.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.permissions import permission_require
from audit.services import audit_content_record
from sync.events import business_event_record
from taskforge.errors import ServiceError, Unavailable
from taskforge.mongo import MongoUnavailable
from tasks import documents
from tasks.attachments import AttachmentRejected, StoredAttachment, attachment_discard, attachment_store
from tasks.caching import caches_invalidate
from tasks.models import Task
from tasks.rendering import mention_handles
from tasks.selectors.tasks import comment_for_change, task_watcher_ids
from tasks.selectors.teams import team_members
from tasks.services.notifications import actor_name, notifications_record
from tasks.services.tasks import task_load, watchers_add

COMMENT_MAX = 10_000


def _invalidate_page_on_commit(task: Task) -> None:
    """After a comment write: only the task page shows comments (boards and dashboards are
    built from task rows, so their caches stay: a comment does not re-render the team's board)."""
    task_id = task.id
    transaction.on_commit(lambda: caches_invalidate(task_ids=[task_id]))


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
    task = task_load(actor, task_id)
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
            watchers_add(task.id, [actor.pk])
            name = actor_name(actor)
            notifications_record(
                recipients=mention_ids,
                kind="task_mentioned",
                task=task,
                actor_id=actor.pk,
                message=f"{name} mentioned you in a comment",
            )
            notifications_record(
                recipients=watchers - set(mention_ids),
                kind="task_comment",
                task=task,
                actor_id=actor.pk,
                message=f"{name} commented",
            )
            business_event_record(
                event_type="comment.created",
                team_id=task.team_id,
                data={
                    "id": doc["_id"],
                    "task_id": doc["task_id"],
                    "team_id": task.team_id,
                    "author_id": actor.pk,
                    "body": body,
                    "mentions": mention_ids,
                    "attachments": [a["name"] for a in doc["attachments"]],
                    "created_at": now,
                },
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
    task = task_load(actor, task_id)
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
        notifications_record(
            recipients=newly,
            kind="task_mentioned",
            task=task,
            actor_id=actor.pk,
            message=f"{actor_name(actor)} mentioned you in a comment",
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
    task = task_load(actor, task_id)
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
