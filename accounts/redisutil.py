"""Raw Redis access for the structures the cache API cannot express (sets, sorted sets).

Keys go through the cache's key function, so they carry CACHE_KEY_PREFIX (each test
run and each stack stays apart) and are cleaned up with the cache. Every caller
treats RedisUnavailable as "degrade", never as a failed request.
"""

from __future__ import annotations

from typing import Any

from django.core.cache import cache
from redis.exceptions import RedisError

RedisUnavailable = RedisError


def redis_client() -> Any:
    from django_redis import get_redis_connection

    return get_redis_connection("default")


def rkey(name: str) -> str:
    return cache.make_key(name)
