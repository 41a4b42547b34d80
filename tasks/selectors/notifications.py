"""In-app notifications of a person and their unread count."""

from __future__ import annotations

from typing import Any

from taskforge.mongo import DocumentStoreUnavailable, document_store, documents_collection
from tasks.caching import unread_cached, unread_set
from tasks.models import Notification

# The badge counts at most this many (a lower bound beyond it; Redis counts on from there).
UNREAD_COUNT_CAP = 10_000


def unread_filter(user_id: int) -> dict[str, Any]:
    """A person's unread notifications as a plain filter document: two conditions, so it goes
    through pymongo (the ORM's {"$and": [...]} is not served by an index locally); the
    (user_id, read, -created_at) index serves it."""
    return {"user_id": user_id, "read": False}


def unread_count(user_id: int) -> int | None:
    """Unread notifications: Redis first, recomputed from MongoDB on a miss (None if both fail)."""
    cached = unread_cached(user_id)
    if cached is not None:
        return max(cached, 0)
    try:
        with document_store():
            count = documents_collection(Notification).count_documents(unread_filter(user_id), limit=UNREAD_COUNT_CAP)
    except DocumentStoreUnavailable:
        return None
    unread_set(user_id, count)
    return count


def notification_as_dict(notification: Notification) -> dict[str, Any]:
    return {
        "nid": notification.pk,
        "user_id": notification.user_id,
        "kind": notification.kind,
        "read": notification.read,
        "task_id": notification.task_id,
        "team_id": notification.team_id,
        "actor_id": notification.actor_id,
        "title": notification.title,
        "message": notification.message,
        "url": notification.url,
        "created_at": notification.created_at,
        "read_at": notification.read_at,
    }


def notifications_for(user_id: int, *, limit: int = 50) -> list[dict[str, Any]] | None:
    """A person's notifications, unread first, then newest first (None while the document
    server is down). One condition and a sort: the (user_id, read, -created_at) index."""
    try:
        with document_store():
            rows = list(Notification.objects.filter(user_id=user_id).order_by("read", "-created_at")[:limit])
    except DocumentStoreUnavailable:
        return None
    return [notification_as_dict(row) for row in rows]
