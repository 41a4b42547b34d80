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
from collections.abc import Sequence

from accounts.redisutil import RedisUnavailable, redis_client, rkey


def email_bucket(email: str) -> str:
    # The address is hashed so Redis holds no personal data.
    return "auth:fail:acct:" + hashlib.sha256(email.strip().lower().encode()).hexdigest()[:40]


def device_bucket(nonce: str) -> str:
    # Failures of one device cookie (accounts/devices.py); its nonce is hashed like the address.
    return "auth:fail:dev:" + hashlib.sha256(nonce.encode()).hexdigest()[:40]


def ip_bucket(ip: str) -> str:
    return f"auth:fail:ip:{ip or 'unknown'}"


Limit = int | Sequence[int]


def _limits(buckets: list[str], limit: Limit) -> list[int]:
    """One limit for every bucket, or one each (in the buckets' order)."""
    limits = [limit] * len(buckets) if isinstance(limit, int) else list(limit)
    if len(limits) != len(buckets):
        raise ValueError("one limit per bucket")
    return limits


def window_retry_after(buckets: list[str], *, limit: Limit, window: int) -> int:
    """Seconds until another event is allowed in every bucket (0 = allowed now).

    Raises RedisUnavailable when Redis cannot answer (the caller decides the fallback).
    """
    limits = _limits(buckets, limit)
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
        count, limit_here = results[index * 2 + 1], limits[index]
        if count >= limit_here:
            # The (count - limit)-th oldest event must leave the window first.
            oldest = client.zrange(rkey(bucket), count - limit_here, count - limit_here, withscores=True)
            if oldest:
                wait = max(wait, oldest[0][1] + window - now)
    return max(int(math.ceil(wait)), 1) if wait > 0 else 0


# Count and add in one step (a Lua script runs atomically in Redis), so parallel requests
# cannot all pass the check before any of them is counted. Returns the seconds to wait
# (as a string: Redis truncates Lua numbers to integers), "0" when the member was added.
_RESERVE_SCRIPT = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local wait = 0
for i, key in ipairs(KEYS) do
    local limit = tonumber(ARGV[3 + i])
    redis.call('ZREMRANGEBYSCORE', key, 0, now - window)
    local count = redis.call('ZCARD', key)
    if count >= limit then
        local oldest = redis.call('ZRANGE', key, count - limit, count - limit, 'WITHSCORES')
        local w = 1
        if oldest[2] then
            w = math.max(tonumber(oldest[2]) + window - now, 1)
        end
        if w > wait then
            wait = w
        end
    end
end
if wait > 0 then
    return tostring(wait)
end
for _, key in ipairs(KEYS) do
    redis.call('ZADD', key, now, ARGV[3])
    redis.call('EXPIRE', key, window + 60)
end
return '0'
"""


def window_reserve(buckets: list[str], *, limit: Limit, window: int) -> tuple[int, str]:
    """Atomically: if every bucket has room, add one event to each and return (0, member);
    otherwise add nothing and return (seconds to wait, "").

    The member stands for an attempt in progress: left in place it counts as a failure;
    `window_release` takes it out again (the attempt turned out not to be a failure).
    Raises RedisUnavailable when Redis cannot answer.
    """
    now = time.time()
    member = f"{now:.6f}:{secrets.token_hex(6)}"
    client = redis_client()
    limits = _limits(buckets, limit)
    answer = client.eval(
        _RESERVE_SCRIPT, len(buckets), *[rkey(b) for b in buckets], f"{now:.6f}", window, member, *limits
    )
    wait = float(answer.decode() if isinstance(answer, bytes) else answer)
    if wait > 0:
        return max(int(math.ceil(wait)), 1), ""
    return 0, member


def window_release(buckets: list[str], member: str) -> None:
    """Take a reserved event out of the buckets again (quietly, if Redis is gone meanwhile)."""
    if not member:
        return
    try:
        pipe = redis_client().pipeline()
        for bucket in buckets:
            pipe.zrem(rkey(bucket), member)
        pipe.execute()
    except RedisUnavailable:
        pass


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
