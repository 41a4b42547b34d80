"""The event streams (async views): GET /events/board/<team>/ and GET /events/me/.

A board stream carries the team's channel (task created/moved/edited/deleted, comments;
`?task=<id>` keeps one task's) and the person's own (bell); /events/me/ only the person's.
Permission is checked when the stream opens (401 signed out, 404 a team one may not see),
again before each event (against the team's viewers, one shared lookup per team at most
every LIVE_RECHECK_MS) and in full at each heartbeat (session, account, permission): a
person who left the team gets `event: end` instead of the next event, a signed-out
session at the next heartbeat, and the stream closes.

Event ids are the channels' positions joined by "_" (board: "<team>_<user>"), so a browser
reconnecting with Last-Event-ID gets exactly what it missed from the backlog, or
`event: resync` when the backlog no longer reaches back that far.
"""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections.abc import AsyncIterator
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse

from live.access import Access, Verdict, stream_access
from live.hub import HUB, Event, Listener
from live.viewers import TEAM_VIEWERS
from taskforge.live import EVENT_ID_RE, KIND_BELL, event_id_key, team_channel, user_channel

_check = sync_to_async(stream_access, thread_sensitive=False)


def _text(status: int, message: str, request: HttpRequest) -> HttpResponse:
    response = HttpResponse(message + "\n", status=status, content_type="text/plain; charset=utf-8")
    return _cors(request, response)


def _cors(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """Pages of the site's origin may read the stream when it is served from another origin
    (make run: the live service on its own port). Other origins get no CORS headers."""
    origin = request.headers.get("Origin")
    response["Vary"] = "Origin"
    if origin and origin in settings.LIVE_ALLOWED_ORIGINS:
        response["Access-Control-Allow-Origin"] = origin
        response["Access-Control-Allow-Credentials"] = "true"
        response["Access-Control-Allow-Headers"] = "Last-Event-ID"
        response["Access-Control-Allow-Methods"] = "GET"
    return response


async def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse(f"ok {HUB.open_streams} open\n", content_type="text/plain")


async def board_events(request: HttpRequest, team_id: int) -> HttpResponse:
    return await _open(request, team_id=team_id)


async def my_events(request: HttpRequest) -> HttpResponse:
    return await _open(request, team_id=None)


def _positions(raw: str | None, channels: list[str]) -> dict[str, str | None] | None:
    """Last-Event-ID as a position per channel (None: none given); None when malformed."""
    if not raw:
        return dict.fromkeys(channels)
    parts = raw.strip().split("_")
    if len(parts) != len(channels) or not all(EVENT_ID_RE.match(p) for p in parts):
        return None
    return dict(zip(channels, parts, strict=True))


async def _open(request: HttpRequest, *, team_id: int | None) -> HttpResponse:
    if request.method == "OPTIONS":
        return _cors(request, HttpResponse(status=204))
    if request.method != "GET":
        response = _text(405, "Only GET opens an event stream.", request)
        response["Allow"] = "GET, OPTIONS"
        return response
    origin = request.headers.get("Origin")
    if origin and origin not in settings.LIVE_ALLOWED_ORIGINS and origin != f"{request.scheme}://{request.get_host()}":
        return _text(403, "This origin may not open event streams.", request)
    task_filter = request.GET.get("task") or None
    if task_filter is not None:
        try:
            task_filter = str(uuid.UUID(task_filter))
        except ValueError:
            return _text(400, "The task parameter is not a task id.", request)
        if team_id is None:
            return _text(400, "The task parameter belongs on a board stream.", request)
    session_key = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
    access: Access = await _check(session_key, team_id)
    if access.verdict is Verdict.SIGNED_OUT:
        return _text(401, "Sign in to receive live updates.", request)
    if access.verdict is Verdict.NOT_FOUND:
        return _text(404, "No such team.", request)
    assert access.user_id is not None
    channels = ([team_channel(team_id)] if team_id is not None else []) + [user_channel(access.user_id)]
    raw_last = request.headers.get("Last-Event-ID") or request.GET.get("last_event_id")
    positions = _positions(raw_last, channels)
    if positions is None:
        return _text(400, "Last-Event-ID is not one of this stream's event ids.", request)
    stream = _Stream(
        session_key=session_key, user_id=access.user_id, team_id=team_id, task_filter=task_filter, positions=positions
    )
    response = StreamingHttpResponse(stream.run(), content_type="text/event-stream; charset=utf-8")
    response["Cache-Control"] = "no-store"
    response["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return _cors(request, response)


class _Stream:
    def __init__(
        self,
        *,
        session_key: str | None,
        user_id: int,
        team_id: int | None,
        task_filter: str | None,
        positions: dict[str, Any],
    ) -> None:
        self.session_key = session_key
        self.user_id = user_id
        self.team_id = team_id
        self.task_filter = task_filter
        self.positions: dict[str, str | None] = positions
        self.ended = False

    def _event_id(self) -> str:
        return "_".join(self.positions[c] or "0-0" for c in self.positions)

    def _format(self, event: dict[str, Any]) -> str:
        data = json.dumps(event, separators=(",", ":"))
        return f"id: {self._event_id()}\nevent: {event.get('kind', 'message')}\ndata: {data}\n\n"

    def _wanted(self, event: dict[str, Any]) -> bool:
        if self.task_filter is None or event.get("kind") == KIND_BELL:
            return True
        return event.get("task_id") == self.task_filter

    async def _still_allowed(self) -> bool:
        """Before events: is the person still among the team's viewers (shared, fresh to
        LIVE_RECHECK_MS)? Their own channel needs no more than the heartbeat's check."""
        if self.team_id is None:
            return True
        return self.user_id in await TEAM_VIEWERS.get(self.team_id)

    async def _session_still_good(self) -> bool:
        """At each heartbeat: the whole opening check again (session, account, permission)."""
        access = await _check(self.session_key, self.team_id)
        return access.verdict is Verdict.OK

    async def _catch_up(self) -> tuple[list[Event], bool]:
        """Backlog after each position (a position of None starts at the channel's tail)."""
        events: list[Event] = []
        complete = True
        for channel, position in self.positions.items():
            if position is None:
                self.positions[channel] = await HUB.tail(channel)
                continue
            missed, whole = await HUB.backlog(channel, position)
            events += missed
            complete = complete and whole
        return events, complete

    def _take(self, channel: str, event_id: str) -> bool:
        """Advance the channel's position; False for an event already sent."""
        current = self.positions.get(channel) or "0-0"
        if event_id_key(event_id) <= event_id_key(current):
            return False
        self.positions[channel] = event_id
        return True

    async def run(self) -> AsyncIterator[str]:
        listener = Listener(self.positions)
        await HUB.attach(listener)
        try:
            yield f"retry: {settings.LIVE_RETRY_MS}\n: open\n\n"
            async for chunk in self._replay():
                yield chunk
            while not self.ended:
                listener.wake.clear()
                if listener.queue.empty() and not listener.resync:
                    # Jittered, so the heartbeats (and their checks) of streams opened together spread out.
                    beat = settings.LIVE_HEARTBEAT_SECONDS * random.uniform(0.8, 1.0)
                    try:
                        await asyncio.wait_for(listener.wake.wait(), timeout=beat)
                    except TimeoutError:
                        if not await self._session_still_good():
                            yield self._end()
                            continue
                        yield ": ping\n\n"
                        continue
                if listener.resync:
                    listener.resync = False
                    while not listener.queue.empty():
                        listener.queue.get_nowait()
                    async for chunk in self._replay():
                        yield chunk
                    continue
                channel, event_id, body = listener.queue.get_nowait()
                if not self._take(channel, event_id):
                    continue
                if not await self._still_allowed():
                    yield self._end()
                    continue
                event = json.loads(body)
                if self._wanted(event):
                    yield self._format(event)
        finally:
            HUB.detach(listener)

    async def _replay(self) -> AsyncIterator[str]:
        events, complete = await self._catch_up()
        if not complete:
            for channel, event_id, _ in events:
                self._take(channel, event_id)
            yield f"id: {self._event_id()}\nevent: resync\ndata: {{}}\n\n"
            return
        if events and not await self._still_allowed():
            yield self._end()
            return
        for channel, event_id, event in sorted(events, key=lambda e: event_id_key(e[1])):
            if self._take(channel, event_id) and self._wanted(event):
                yield self._format(event)

    def _end(self) -> str:
        self.ended = True
        # The browser stops reconnecting on this (live.js): the page falls back to polling.
        return 'event: end\ndata: {"reason":"access"}\n\n'
