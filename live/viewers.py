"""Who may see each team's board, per process, fresh to LIVE_RECHECK_MS.

Every event of a team is checked against this set before a stream sends it. One lookup
serves all the team's open streams (concurrent askers share the query in flight), so an
event that reaches 200 streams costs one query, not 200."""

from __future__ import annotations

import asyncio
import time

from asgiref.sync import sync_to_async
from django.conf import settings

from live.access import team_viewers

_lookup = sync_to_async(team_viewers, thread_sensitive=False)


class TeamViewers:
    def __init__(self) -> None:
        self._known: dict[int, tuple[float, frozenset[int]]] = {}
        self._pending: dict[int, asyncio.Future[frozenset[int]]] = {}

    async def get(self, team_id: int) -> frozenset[int]:
        known = self._known.get(team_id)
        if known is not None and (time.monotonic() - known[0]) * 1000 < settings.LIVE_RECHECK_MS:
            return known[1]
        pending = self._pending.get(team_id)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[frozenset[int]] = asyncio.get_running_loop().create_future()
        self._pending[team_id] = future
        try:
            viewers = await _lookup(team_id)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning when nobody else waited
            raise
        finally:
            self._pending.pop(team_id, None)
        self._known[team_id] = (time.monotonic(), viewers)
        future.set_result(viewers)
        return viewers

    def forget(self, team_id: int) -> None:
        self._known.pop(team_id, None)


TEAM_VIEWERS = TeamViewers()
