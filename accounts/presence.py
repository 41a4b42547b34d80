"""Presence: when each user was last active, in the Redis sorted set `online:users`.

Writes are throttled to one per user per minute (a SET NX marker), so busy users
cost one Redis round trip per request, not a sorted-set write.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from accounts.redisutil import RedisUnavailable, redis_client, rkey

logger = logging.getLogger(__name__)

ONLINE_KEY = "online:users"
THROTTLE_SECONDS = 60
ACTIVE_WINDOW_SECONDS = 300
KEEP_SECONDS = 24 * 3600


def presence_touch(user_id: int, *, now: float | None = None) -> bool:
    """Mark the user active now (at most once a minute). Returns True when written."""
    now = time.time() if now is None else now
    try:
        client = redis_client()
        if not client.set(rkey(f"presence:throttle:{user_id}"), "1", nx=True, ex=THROTTLE_SECONDS):
            return False
        pipe = client.pipeline()
        pipe.zadd(rkey(ONLINE_KEY), {str(user_id): now})
        pipe.zremrangebyscore(rkey(ONLINE_KEY), 0, now - KEEP_SECONDS)
        pipe.execute()
    except RedisUnavailable:
        return False
    return True


def presence_active(user_ids: Iterable[int], *, within: int = ACTIVE_WINDOW_SECONDS) -> dict[int, float]:
    """user id -> last activity (epoch seconds) for those active within the window."""
    ids = [int(uid) for uid in user_ids]
    if not ids:
        return {}
    cutoff = time.time() - within
    try:
        scores = redis_client().zmscore(rkey(ONLINE_KEY), [str(uid) for uid in ids])
    except RedisUnavailable:
        return {}
    return {uid: score for uid, score in zip(ids, scores, strict=True) if score is not None and score >= cutoff}


def presence_forget(user_id: int) -> None:
    try:
        client = redis_client()
        client.zrem(rkey(ONLINE_KEY), str(user_id))
        client.delete(rkey(f"presence:throttle:{user_id}"))
    except RedisUnavailable:
        pass
