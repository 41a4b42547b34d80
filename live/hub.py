"""One Redis subscription per process, fanned out to the open streams.

The hub PSUBSCRIBEs to every live channel of this stack once (taskforge.live.channel_pattern)
and hands each message to the streams listening on its channel. A stream that falls behind
(its queue is full) or lived through a lost Redis connection is told to resync: it reads
what it missed from the channel's backlog (a Redis stream), so nothing is skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterable
from typing import Any

import redis.asyncio as aredis
from django.conf import settings
from redis.exceptions import RedisError

from taskforge.live import channel_key, channel_of_key, channel_pattern, event_id_key

logger = logging.getLogger(__name__)

Event = tuple[str, str, dict[str, Any]]  # channel, event id, event


class Listener:
    """One open stream's inbox."""

    def __init__(self, channels: Iterable[str]) -> None:
        self.channels = tuple(channels)
        self.queue: asyncio.Queue[tuple[str, str, str]] = asyncio.Queue(settings.LIVE_QUEUE_MAX)
        self.resync = False  # set when messages may have been lost: read the backlog
        self.wake = asyncio.Event()

    def offer(self, channel: str, event_id: str, body: str) -> None:
        try:
            self.queue.put_nowait((channel, event_id, body))
        except asyncio.QueueFull:
            self.resync = True
        self.wake.set()

    def lost(self) -> None:
        self.resync = True
        self.wake.set()


class Hub:
    def __init__(self) -> None:
        self._listeners: dict[str, set[Listener]] = {}
        self._client: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    def client(self) -> Any:
        if self._client is None:
            self._client = aredis.from_url(settings.REDIS_URL, socket_connect_timeout=2, health_check_interval=30)
        return self._client

    @property
    def open_streams(self) -> int:
        return len({id(lis) for group in self._listeners.values() for lis in group})

    async def attach(self, listener: Listener) -> None:
        """Start listening; returns once the subscription is live (so a backlog read after
        this misses nothing)."""
        for channel in listener.channels:
            self._listeners.setdefault(channel, set()).add(listener)
        if self._reader is None or self._reader.done():
            self._ready.clear()
            self._reader = asyncio.create_task(self._run(), name="live-hub")
        await asyncio.wait_for(self._ready.wait(), timeout=10)

    def detach(self, listener: Listener) -> None:
        for channel in listener.channels:
            group = self._listeners.get(channel)
            if group is not None:
                group.discard(listener)
                if not group:
                    del self._listeners[channel]

    async def _run(self) -> None:
        first = True
        while True:
            pubsub = self.client().pubsub()
            try:
                await pubsub.psubscribe(channel_pattern())
                if not first:  # messages published while we were away: every stream rereads
                    for group in list(self._listeners.values()):
                        for listener in group:
                            listener.lost()
                first = False
                self._ready.set()
                async for message in pubsub.listen():
                    if message["type"] == "pmessage":
                        self._dispatch(message["channel"], message["data"])
            except (RedisError, OSError):
                logger.warning("live hub: Redis connection lost; resubscribing", exc_info=True)
                await asyncio.sleep(1)
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()

    def _dispatch(self, raw_channel: bytes, raw_data: bytes) -> None:
        channel = channel_of_key(raw_channel.decode())
        group = self._listeners.get(channel)
        if not group:
            return
        event_id, _, body = raw_data.decode().partition(" ")
        for listener in list(group):
            listener.offer(channel, event_id, body)

    async def tail(self, channel: str) -> str:
        """The id of the channel's newest event ("0-0" when it has none)."""
        rows = await self.client().xrevrange(channel_key(channel), max="+", min="-", count=1)
        return rows[0][0].decode() if rows else "0-0"

    async def backlog(self, channel: str, after_id: str) -> tuple[list[Event], bool]:
        """(events after `after_id`, complete?): not complete when some were trimmed or expired."""
        key = channel_key(channel)
        rows = await self.client().xrange(key, min=f"({after_id}", max="+")
        events = [(channel, rid.decode(), json.loads(fields[b"e"])) for rid, fields in rows]
        if after_id == "0-0":
            return events, True
        try:
            info = await self.client().xinfo_stream(key)
        except RedisError:  # no such key: the backlog expired after a long quiet spell
            return events, False
        first = info.get("first-entry")
        trimmed = int(info.get("entries-added") or 0) > int(info.get("length") or 0)
        if not trimmed or first is None:
            return events, not trimmed
        # Trimming drops the oldest entries: a position before the oldest kept one may have
        # missed some (when unsure, the page resyncs: a reload of what it shows, never a loss).
        first_id = first[0].decode() if isinstance(first[0], bytes) else str(first[0])
        return events, event_id_key(after_id) >= event_id_key(first_id)


HUB = Hub()
