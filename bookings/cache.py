"""Cache of rendered catalogue results (the busiest page), invalidated by a generation
number that the trip outbox handler bumps whenever the projection changes.

The key holds the generation, today's date (the catalogue hides departed trips) and the
normalised query string, so a change to any trip retires every cached page at once and
nothing needs deleting. CATALOGUE_CACHE_SECONDS=0 switches the cache off.
"""

from __future__ import annotations

import hashlib
import logging
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

logger = logging.getLogger(__name__)

GENERATION_KEY = "bookings:catalogue:gen"


def catalogue_generation() -> int:
    return int(cache.get(GENERATION_KEY) or 0)


def catalogue_cache_bump() -> None:
    """Retire every cached catalogue page (called after a projection write)."""
    try:
        cache.incr(GENERATION_KEY)
    except ValueError:  # no counter yet (or evicted): start one that cannot repeat an old value
        cache.set(GENERATION_KEY, int(time.time() * 1000), None)
    except Exception:
        logger.warning("could not bump the catalogue cache generation", exc_info=True)


def catalogue_cache_key(params: Any) -> str | None:
    """The cache key of a catalogue request (a QueryDict), or None when caching is off."""
    if settings.CATALOGUE_CACHE_SECONDS <= 0:
        return None
    items = sorted((key, value) for key in params for value in params.getlist(key))
    digest = hashlib.sha1(repr(items).encode(), usedforsecurity=False).hexdigest()
    return f"bookings:catalogue:{catalogue_generation()}:{timezone.localdate().isoformat()}:{digest}"
