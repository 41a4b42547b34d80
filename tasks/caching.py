"""Redis keys of the tasks app (through Django's cache, so every key carries the site prefix).

* task page bundle (cache-aside, 5 minutes), invalidated after every write to the task;
* rendered board columns per team and viewer kind (1 minute), keyed by the team's board
  generation, which every task write of the team replaces (so old entries are never read);
* dashboard numbers per team and per user, invalidated after task writes;
* unread notification count per user: INCR on create (only when the key exists),
  reset on read-all, recomputed from MongoDB on a miss.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from typing import Any

from django.core.cache import cache

logger = logging.getLogger(__name__)

TASK_PAGE_TTL = 300
DASHBOARD_TTL = 600
UNREAD_TTL = 600
BOARD_TTL = 60  # bounds how long time-derived badges ("overdue") can lag


def task_page_key(task_id: Any) -> str:
    return f"tasks:page:{task_id}"


def dashboard_team_key(team_id: int) -> str:
    return f"tasks:dash:team:{team_id}"


def dashboard_user_key(user_id: int) -> str:
    return f"tasks:dash:user:{user_id}"


def unread_key(user_id: int) -> str:
    return f"tasks:unread:{user_id}"


def board_generation_key(team_id: int) -> str:
    return f"tasks:boardgen:{team_id}"


def board_generation(team_id: int) -> str:
    """The team's current board generation (a fresh one if none is cached)."""
    key = board_generation_key(team_id)
    generation = cache.get(key)
    if generation is None:
        generation = uuid.uuid4().hex[:12]
        if not cache.add(key, generation, None):
            generation = cache.get(key) or generation
    return str(generation)


def board_key(team_id: int, generation: str, viewer: str) -> str:
    return f"tasks:board:{team_id}:{generation}:{viewer}"


def caches_invalidate(
    *, task_ids: Iterable[Any] = (), team_ids: Iterable[int] = (), user_ids: Iterable[int] = ()
) -> None:
    keys = [task_page_key(t) for t in task_ids]
    keys += [dashboard_team_key(t) for t in team_ids]
    keys += [dashboard_user_key(u) for u in user_ids if u]
    keys += [board_generation_key(t) for t in team_ids]  # next read starts a new generation
    if keys:
        cache.delete_many(keys)


def unread_incr(user_id: int) -> None:
    """Count one more unread notification, if the count is cached (else it is recomputed on read)."""
    try:
        cache.incr(unread_key(user_id))
    except ValueError:
        pass  # not cached: the next read counts from MongoDB
    except Exception:
        logger.warning("could not increment the unread count of user %s", user_id, exc_info=True)


def unread_set(user_id: int, value: int) -> None:
    cache.set(unread_key(user_id), int(value), UNREAD_TTL)


def unread_forget(user_id: int) -> None:
    cache.delete(unread_key(user_id))


def unread_cached(user_id: int) -> int | None:
    value = cache.get(unread_key(user_id))
    return int(value) if value is not None else None
