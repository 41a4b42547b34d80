"""Live events: small JSON messages published to Redis after commit, streamed to browsers by
the live service (live/, Server-Sent Events).

A channel is a team's board (`team:<id>`: tasks created, moved, edited, deleted; comments)
or one person (`user:<id>`: the bell's count changed). Publishing appends the event to a
capped Redis stream per channel (its entry id is the event id, monotonic per channel, so a
reconnecting browser replays what it missed from `Last-Event-ID`) and, in the same Lua
call, PUBLISHes "<id> <json>" on the channel for the open streams. Keys carry the cache
prefix, so test runs and stacks stay apart.

Publishing never breaks a write: it runs after commit, and a Redis failure is logged.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django_redis import get_redis_connection
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

# SSE event names the browser listens for (static/js/live.js).
KIND_BOARD = "board"
KIND_COMMENT = "comment"
KIND_BELL = "bell"

EVENT_ID_RE = re.compile(r"^\d{1,20}-\d{1,20}$")

# XADD with approximate trimming, keep the backlog a while, and fan the event out: one
# round trip, and the id the subscribers see is the stream id.
_PUBLISH_LUA = """
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'e', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('PUBLISH', KEYS[1], id .. ' ' .. ARGV[1])
return id
"""


def team_channel(team_id: int) -> str:
    return f"team:{int(team_id)}"


def user_channel(user_id: int) -> str:
    return f"user:{int(user_id)}"


def channel_key(channel: str) -> str:
    """The Redis key of a channel's stream, which is also its pub/sub channel name."""
    return cache.make_key(f"live:{channel}")


def channel_pattern() -> str:
    """The pub/sub pattern every channel of this stack matches (the live service's PSUBSCRIBE)."""
    return cache.make_key("live:*")


def channel_of_key(key: str) -> str:
    """Inverse of channel_key: "team:3" from the prefixed key."""
    marker = ":live:"
    return key[key.index(marker) + len(marker) :]


def event_id_key(event_id: str) -> tuple[int, int]:
    """A stream id as a sortable pair ("1712-3" -> (1712, 3))."""
    ms, seq = event_id.split("-")
    return int(ms), int(seq)


def _redis() -> Any:
    return get_redis_connection("default")


def live_publish(channel: str, kind: str, data: Mapping[str, Any]) -> str | None:
    """Publish one event now; its id, or None when Redis is unavailable (logged, never raised)."""
    message = json.dumps({"kind": kind, **data}, separators=(",", ":"), default=str)
    try:
        raw = _redis().eval(
            _PUBLISH_LUA,
            1,
            channel_key(channel),
            message,
            settings.LIVE_BACKLOG,
            settings.LIVE_BACKLOG_SECONDS,
        )
    except RedisError:
        logger.warning("live event on %s not published: Redis unavailable", channel, exc_info=True)
        return None
    return raw.decode() if isinstance(raw, bytes) else str(raw)


def live_publish_on_commit(channel: str, kind: str, data: Mapping[str, Any]) -> None:
    """Publish after the current transaction commits (at once outside one); nothing on rollback.

    Register it after the write's cache invalidations, so a browser that re-fetches on the
    event never reads a stale cached board."""
    payload = dict(data)
    transaction.on_commit(lambda: live_publish(channel, kind, payload))


def live_backlog(channel: str, after_id: str) -> list[tuple[str, dict[str, Any]]]:
    """Events of a channel after `after_id`, oldest first (sync; the live service has its own async read)."""
    rows = _redis().xrange(channel_key(channel), min=f"({after_id}", max="+")
    return [(rid.decode(), json.loads(fields[b"e"])) for rid, fields in rows]
