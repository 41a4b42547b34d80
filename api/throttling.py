"""Rate limits of the API: per client IP (every request, checked before authentication so
token guessing is limited too) and per token. Fixed-window counters in Redis; a request
over the limit answers 429 with Retry-After. Redis down: requests are let through (the
site degrades rather than refusing every call)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from accounts.models import ApiToken
from accounts.redisutil import RedisUnavailable, redis_client, rkey
from taskforge.middleware import client_ip

PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


@dataclass(frozen=True)
class Rate:
    limit: int
    period: int


def rate_parse(value: str) -> Rate:
    """'600/minute' -> Rate(600, 60). Settings validate with this, so a bad value stops start-up."""
    count, _, period = value.partition("/")
    if not count.isdigit() or int(count) < 1 or period not in PERIODS:
        raise ValueError(f"{value!r} is not a rate like '600/minute' (periods: {', '.join(PERIODS)})")
    return Rate(int(count), PERIODS[period])


def rate_hit(bucket: str, rate: Rate) -> int:
    """Count one request in `bucket`; 0 if allowed, else seconds until the window ends."""
    now = time.time()
    window = int(now // rate.period)
    key = rkey(f"api:rate:{bucket}:{window}")
    try:
        pipe = redis_client().pipeline()
        pipe.incr(key)
        pipe.expire(key, rate.period + 1)
        count = pipe.execute()[0]
    except RedisUnavailable:
        return 0
    if count <= rate.limit:
        return 0
    return max(1, int((window + 1) * rate.period - now + 0.999))


class _Throttle(BaseThrottle):
    wait_seconds = 0

    def wait(self) -> float | None:
        return self.wait_seconds or None


class IpRateThrottle(_Throttle):
    """API_IP_RATE per client address."""

    def allow_request(self, request: Request, view: Any) -> bool:
        self.wait_seconds = rate_hit(f"ip:{client_ip(request._request) or 'unknown'}", rate_parse(settings.API_IP_RATE))
        return not self.wait_seconds


class TokenRateThrottle(_Throttle):
    """API_TOKEN_RATE per personal access token (session callers are limited by IP only)."""

    def allow_request(self, request: Request, view: Any) -> bool:
        if not isinstance(request.auth, ApiToken):
            return True
        self.wait_seconds = rate_hit(f"token:{request.auth.pk}", rate_parse(settings.API_TOKEN_RATE))
        return not self.wait_seconds
