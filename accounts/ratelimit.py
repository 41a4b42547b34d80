"""Sliding-window counters in Redis sorted sets (failed sign-ins, throttled forms).

Each event is a member scored by its time; counting drops members older than the
window first. `retry_after` is when enough old events leave the window for one more
attempt to be allowed.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import time

from accounts.redisutil import RedisUnavailable, redis_client, rkey


def email_bucket(email: str) -> str:
    # The address is hashed so Redis holds no personal data.
    return "auth:fail:acct:" + hashlib.sha256(email.strip().lower().encode()).hexdigest()[:40]


def ip_bucket(ip: str) -> str:
    return f"auth:fail:ip:{ip or 'unknown'}"


def window_retry_after(buckets: list[str], *, limit: int, window: int) -> int:
    """Seconds until another event is allowed in every bucket (0 = allowed now).

    Raises RedisUnavailable when Redis cannot answer (the caller decides the fallback).
    """
    now = time.time()
    client = redis_client()
    pipe = client.pipeline()
    for bucket in buckets:
        key = rkey(bucket)
        pipe.zremrangebyscore(key, 0, now - window)
        pipe.zcard(key)
    results = pipe.execute()
    wait = 0.0
    for index, bucket in enumerate(buckets):
        count = results[index * 2 + 1]
        if count >= limit:
            # The (count - limit)-th oldest event must leave the window first.
            oldest = client.zrange(rkey(bucket), count - limit, count - limit, withscores=True)
            if oldest:
                wait = max(wait, oldest[0][1] + window - now)
    return max(int(math.ceil(wait)), 1) if wait > 0 else 0


def window_add(buckets: list[str], *, window: int) -> None:
    now = time.time()
    pipe = redis_client().pipeline()
    for bucket in buckets:
        key = rkey(bucket)
        pipe.zadd(key, {f"{now:.6f}:{secrets.token_hex(4)}": now})
        pipe.expire(key, window + 60)
    pipe.execute()


def window_clear(buckets: list[str]) -> None:
    try:
        redis_client().delete(*[rkey(bucket) for bucket in buckets])
    except RedisUnavailable:
        pass


def throttle_hit(bucket: str, *, limit: int, window: int) -> int:
    """Count one event; return seconds to wait if it went over the limit (0 = allowed).

    For forms that send email (reset, registration): when Redis is down they are
    allowed, since there is no account to protect and the mail is harmless.
    """
    try:
        wait = window_retry_after([bucket], limit=limit, window=window)
        if wait:
            return wait
        window_add([bucket], window=window)
    except RedisUnavailable:
        return 0
    return 0
