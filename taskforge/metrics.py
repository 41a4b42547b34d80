"""Prometheus metrics: requests, latencies, SQL queries per request, queue depths,
outbox lag and cache hit ratio.

Per-process counters live in this process (gunicorn runs several workers; set
PROMETHEUS_MULTIPROC_DIR for aggregated counters across workers, as prometheus_client
documents). Gauges that describe shared state (queue depths, outbox lag, Redis hit
ratio) are computed at scrape time from the source.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import connections
from django.http import HttpRequest, HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from taskforge.celery import app

logger = logging.getLogger(__name__)

REGISTRY = CollectorRegistry(auto_describe=True)
REQUESTS = Counter("taskforge_http_requests_total", "HTTP requests", ["method", "view", "status"], registry=REGISTRY)
LATENCY = Histogram(
    "taskforge_http_request_seconds",
    "Request latency",
    ["view"],
    registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2, 5),
)
QUERIES = Histogram(
    "taskforge_db_queries_per_request",
    "SQL queries per request",
    ["view"],
    registry=REGISTRY,
    buckets=(0, 1, 2, 4, 6, 8, 10, 15, 20, 30, 50),
)
# Scrape-time gauges describe shared state; they live apart from the per-process
# families so the multiprocess output never repeats a family.
# Gauges read at scrape time. Apps above the project add their own with `gauge()` and
# `scrape_refresher_register()` in their AppConfig.ready() (the outbox: sync/status.py).
_GAUGES = CollectorRegistry(auto_describe=True)
_REFRESHERS: list[Callable[[], None]] = []


def gauge(name: str, documentation: str, labels: tuple[str, ...] = ()) -> Gauge:
    """A gauge refreshed at scrape time, in the scrape-time registry."""
    return Gauge(name, documentation, list(labels), registry=_GAUGES)


def scrape_refresher_register(refresh: Callable[[], None]) -> None:
    """Run `refresh` before each scrape (it sets its gauges; a failure is logged, not raised)."""
    if refresh not in _REFRESHERS:
        _REFRESHERS.append(refresh)


QUEUE_DEPTH = Gauge("taskforge_celery_queue_depth", "Messages waiting per Celery queue", ["queue"], registry=_GAUGES)
CACHE_HIT_RATIO = Gauge("taskforge_cache_hit_ratio", "Redis keyspace hit ratio", registry=_GAUGES)


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class _QueryCounter:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        self.count += 1
        return execute(sql, params, many, context)


class MetricsMiddleware:
    """Counts requests, latency and SQL queries per request, labelled by view name."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        counter = _QueryCounter()
        started = time.perf_counter()
        with connections["default"].execute_wrapper(counter):
            response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        view = (match.view_name if match else "") or "unmatched"
        LATENCY.labels(view).observe(time.perf_counter() - started)
        QUERIES.labels(view).observe(counter.count)
        # Client-chosen methods must not create unbounded label values.
        method = request.method if request.method in _METHODS else "other"
        REQUESTS.labels(method, view, str(response.status_code)).inc()
        return response


def queue_depths() -> dict[str, int | None]:
    """Messages ready per queue, by passive declare (None when the broker can't be asked)."""
    depths: dict[str, int | None] = {}
    try:
        with app.connection_for_write() as conn:
            channel = conn.default_channel
            for queue in app.conf.task_queues:
                try:
                    _, count, _ = channel.queue_declare(queue=queue.name, passive=True)
                    depths[queue.name] = count
                except Exception:  # noqa: BLE001 - not declared yet: nobody published
                    depths[queue.name] = 0
                    channel = conn.channel()
    except Exception:  # noqa: BLE001 - broker down
        return {queue.name: None for queue in app.conf.task_queues}
    return depths


def redis_figures() -> dict[str, Any]:
    from django_redis import get_redis_connection

    info = get_redis_connection("default").info()
    hits, misses = info.get("keyspace_hits", 0), info.get("keyspace_misses", 0)
    return {
        "used_memory_bytes": info.get("used_memory"),
        "hit_ratio": hits / (hits + misses) if hits + misses else None,
        "connected_clients": info.get("connected_clients"),
    }


def _refresh_gauges() -> None:
    for name, depth in queue_depths().items():
        if depth is not None:
            QUEUE_DEPTH.labels(name).set(depth)
    for refresh in _REFRESHERS:
        try:
            refresh()
        except Exception:
            logger.debug("metrics: %s failed", refresh.__qualname__, exc_info=True)
    try:
        ratio = redis_figures()["hit_ratio"]
        if ratio is not None:
            CACHE_HIT_RATIO.set(ratio)
    except Exception:
        logger.debug("metrics: redis figures unavailable", exc_info=True)


def _allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    if token:
        return hmac.compare_digest(request.headers.get("Authorization", ""), f"Bearer {token}")
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False


def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus scrape endpoint: loopback only, or with METRICS_TOKEN as a bearer token."""
    from django.http import Http404

    if not _allowed(request):
        raise Http404
    _refresh_gauges()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Several gunicorn workers: per-process families come from the multiprocess
        # files (which include this process's), the scrape-time gauges from here.
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        body = generate_latest(registry) + generate_latest(_GAUGES)
    else:
        body = generate_latest(REGISTRY) + generate_latest(_GAUGES)
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
