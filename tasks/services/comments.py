"""Writes of comments (with @mentions and an optional file), and their moderation.

Comments are MongoDB-only content (tasks.models.TaskComment): they are written to MongoDB
as the last step of a PostgreSQL transaction that holds their audit row and notification
events, so a failed document write rolls everything back and the person gets a clear 503.
"""

from __future__ import annotations

from typing import Any

from bson import ObjectId
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from accounts.models import Capability
from accounts.permissions import capability_has, permission_require
from audit.services import audit_content_record
from sync.events import business_event_record
from taskforge.errors import NotFound, ServiceError, Unavailable
from taskforge.live import KIND_COMMENT, live_publish_on_commit, team_channel
from taskforge.mongo import DocumentStoreUnavailable, document_store
from tasks.attachments import AttachmentRejected, StoredAttachment, attachment_discard, attachment_store
from tasks.caching import caches_invalidate
from tasks.models import Attachment, Task, TaskComment
from tasks.rendering import mention_handles
from tasks.selectors.tasks import comment_as_dict, comment_for_change, task_watcher_ids
from tasks.selectors.teams import team_members
from tasks.services.notifications import actor_name, notifications_record
from tasks.services.tasks import task_load, watchers_add

COMMENT_MAX = 10_000


def _invalidate_page_on_commit(task: Task) -> None:
    """After a comment write: only the task page shows comments (boards and dashboards are
    built from task rows, so their caches stay: a comment does not re-render the team's board)."""
    page_invalidate_on_commit(task.id)


def _comment_event_on_commit(comment: TaskComment, event_type: str, *, actor: Any) -> None:
    """Tell open pages of the task (the team's live channel, filtered by task) after commit."""
    data = {"type": event_type, "task_id": comment.task_id, "team_id": comment.team_id, "comment_id": str(comment.pk),
            "actor_id": actor.pk}  # fmt: skip
    live_publish_on_commit(team_channel(comment.team_id), KIND_COMMENT, data)


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


def comment_body_check(body: str) -> str:
    body = (body or "").strip()
    if not body:
        raise ServiceError("A comment cannot be empty.", errors={"body": "Write something first."})
    if len(body) > COMMENT_MAX:
        raise ServiceError("The comment is too long.", errors={"body": f"At most {COMMENT_MAX:,} characters."})
    return body


def comment_audit_view(comment: TaskComment) -> dict[str, Any]:
    """What the audit log records of a comment."""
    return {
        "comment_id": str(comment.pk),
        "author_id": comment.author_id,
        "body": comment.body,
        "mentions": list(comment.mentions or []),
        "attachments": [a.name for a in comment.attachments or []],
        "hidden": bool(comment.hidden),
    }


def page_invalidate_on_commit(task_id: Any) -> None:
    """After a comment write: only the task page shows comments."""
    transaction.on_commit(lambda: caches_invalidate(task_ids=[task_id]))


def comment_create(*, actor: Any, task_id: Any, body: str, upload: Any = None) -> dict[str, Any]:
    """Add a comment (MongoDB), audited and with its notifications in one PostgreSQL transaction;
    returns it as the page shows it."""
    task = task_load(actor, task_id)
    permission_require(actor, task.team_id, "comment.create")
    body = comment_body_check(body)
    mention_ids, _ = mentions_resolve(task.team_id, body)
    stored: StoredAttachment | None = None
    if upload is not None:
        try:
            stored = attachment_store(upload, task_id=str(task.id))
        except AttachmentRejected as exc:
            raise ServiceError(str(exc), errors={"file": str(exc)}) from None
    now = timezone.now()
    comment = TaskComment(
        id=ObjectId(),  # made here, so the audit row names it before the document is written
        task_id=str(task.id),
        team_id=task.team_id,
        author_id=actor.pk,
        body=body,
        mentions=mention_ids,
        attachments=[Attachment(**stored.as_doc(uploaded_by=actor.pk, uploaded_at=now))] if stored else [],
        created_at=now,
    )
    try:
        with transaction.atomic():
            audit_content_record(
                table="task_comment", record_id=task.id, operation="INSERT", old=None, new=comment_audit_view(comment)
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
                    "id": str(comment.id),
                    "task_id": comment.task_id,
                    "team_id": task.team_id,
                    "author_id": actor.pk,
                    "body": body,
                    "mentions": mention_ids,
                    "attachments": [attachment.name for attachment in comment.attachments],
                    "created_at": now,
                },
            )
            _invalidate_page_on_commit(task)
            _comment_event_on_commit(comment, "comment.created", actor=actor)
            try:  # last step: a failure here rolls back the audit row and the notifications
                with document_store():
                    comment.save(force_insert=True)
            except DocumentStoreUnavailable:
                raise Unavailable(
                    "Comments are unavailable right now (the document server is down). Your comment was "
                    "not saved; please try again in a minute."
                ) from None
    except BaseException:
        if stored:
            attachment_discard(str(task.id), stored.stored_name)
        raise
    return comment_as_dict(comment)


def comment_update(*, actor: Any, task_id: Any, comment_id: str, body: str) -> dict[str, Any]:
    """The author (or a team moderator) edits a comment's text; returns it as the page shows it."""
    task = task_load(actor, task_id)
    comment = comment_for_change(actor, task, comment_id)
    body = comment_body_check(body)
    mention_ids, _ = mentions_resolve(task.team_id, body)
    old = comment_audit_view(comment)
    old_mentions = set(comment.mentions or [])
    comment.body, comment.mentions, comment.edited_at = body, mention_ids, timezone.now()
    with transaction.atomic():
        audit_content_record(
            table="task_comment", record_id=task.id, operation="UPDATE", old=old, new=comment_audit_view(comment)
        )
        newly = set(mention_ids) - old_mentions
        notifications_record(
            recipients=newly,
            kind="task_mentioned",
            task=task,
            actor_id=actor.pk,
            message=f"{actor_name(actor)} mentioned you in a comment",
        )
        _invalidate_page_on_commit(task)
        _comment_event_on_commit(comment, "comment.edited", actor=actor)
        try:
            with document_store():
                TaskComment.objects.filter(pk=comment.pk).update(
                    body=comment.body, mentions=comment.mentions, edited_at=comment.edited_at
                )
        except DocumentStoreUnavailable:
            raise Unavailable("Comments are unavailable right now; your edit was not saved.") from None
    return comment_as_dict(comment)


def comment_delete(*, actor: Any, task_id: Any, comment_id: str) -> None:
    task = task_load(actor, task_id)
    comment = comment_for_change(actor, task, comment_id)
    with transaction.atomic():
        audit_content_record(
            table="task_comment", record_id=task.id, operation="DELETE", old=comment_audit_view(comment), new=None
        )
        _invalidate_page_on_commit(task)
        _comment_event_on_commit(comment, "comment.deleted", actor=actor)
        try:
            with document_store():
                TaskComment.objects.filter(pk=comment.pk).delete()
        except DocumentStoreUnavailable:
            raise Unavailable("Comments are unavailable right now; nothing was deleted.") from None
        files = [a.stored_name for a in comment.attachments or [] if a.stored_name]
        task_key = str(task.id)
        transaction.on_commit(lambda: [attachment_discard(task_key, name) for name in files])


def comment_moderate(*, actor: Any, comment_id: Any, body: str, hidden: bool) -> TaskComment:
    """A site admin (the Django admin) hides or shows a comment, or edits its text.

    Audited like every comment change ("task_comment", UPDATE, with who moderated it);
    the task page is refreshed after the commit. Mentions are not re-sent: a moderator's
    edit notifies no one. Site admins only (PermissionDenied otherwise)."""
    if not capability_has(actor, Capability.SITE_ADMIN):
        raise PermissionDenied("Only site admins moderate comments.")
    body = comment_body_check(body)
    try:
        with document_store():
            comment = TaskComment.objects.filter(pk=comment_id).first()
    except DocumentStoreUnavailable:
        raise Unavailable("Comments are unavailable right now; nothing was changed.") from None
    if comment is None:
        raise NotFound("No such comment.")
    old = comment_audit_view(comment)
    now = timezone.now()
    changed_text = body != comment.body
    comment.body, comment.hidden = body, bool(hidden)
    comment.moderated_by, comment.moderated_at = actor.pk, now
    if changed_text:
        comment.edited_at = now
    new = comment_audit_view(comment)
    if new == old:
        return comment
    with transaction.atomic():
        audit_content_record(
            table="task_comment",
            record_id=comment.task_id,
            operation="UPDATE",
            old=old,
            new={**new, "moderated_by": actor.pk},
        )
        page_invalidate_on_commit(comment.task_id)
        _comment_event_on_commit(comment, "comment.edited", actor=actor)  # open task pages hide it now
        try:
            with document_store():
                TaskComment.objects.filter(pk=comment.pk).update(
                    body=comment.body,
                    hidden=comment.hidden,
                    edited_at=comment.edited_at,
                    moderated_by=comment.moderated_by,
                    moderated_at=comment.moderated_at,
                )
        except DocumentStoreUnavailable:
            raise Unavailable("Comments are unavailable right now; nothing was changed.") from None
    return comment
