"""In-app notifications of a person and their unread count."""

from __future__ import annotations

from typing import Any

from taskforge.mongo import MongoUnavailable
from tasks import documents
from tasks.caching import unread_cached, unread_set

# The badge counts at most this many (a lower bound beyond it; Redis counts on from there).
UNREAD_COUNT_CAP = 10_000


def unread_count(user_id: int) -> int | None:
    """Unread notifications: Redis first, recomputed from MongoDB on a miss (None if both fail)."""
    cached = unread_cached(user_id)
    if cached is not None:
        return max(cached, 0)
    try:
        # Counted from the ids, not count_documents: nx-27017 runs a count as a scan of the
        # whole collection (2 s at 100,000 notifications); a find uses the user_id index.
        unread = documents.notifications().find({"user_id": user_id, "state": "unread"}, {"_id": 1})
        count = len(list(unread.limit(UNREAD_COUNT_CAP)))
    except MongoUnavailable:
        return None
    unread_set(user_id, count)
    return count


def notifications_for(user_id: int, *, limit: int = 50) -> list[dict[str, Any]] | None:
    try:
        rows = list(documents.notifications().find({"user_id": user_id}).sort("created_at", -1).limit(limit))
    except MongoUnavailable:
        return None
    for row in rows:
        row["nid"] = row["_id"]
    return rows
