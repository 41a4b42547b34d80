"""Operator views of the outbox: status and lag, retrying dead letters, purging applied events."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import connection
from django.db.models import Min
from django.utils import timezone

from sync.models import OutboxEvent, OutboxStatus
from taskforge.metrics import gauge

logger = logging.getLogger(__name__)

# --- operator views: status, retry, purge --------------------------------------------------


def outbox_status(*, dead_sample: int = 10) -> dict[str, Any]:
    """Pending, in flight, oldest pending age, dead letters and lag percentiles (last hour)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(*),
                   count(*) FILTER (WHERE locked_by <> '' AND next_attempt_at > statement_timestamp()),
                   count(*) FILTER (WHERE locked_by = '' AND attempts > 0),
                   EXTRACT(EPOCH FROM statement_timestamp() - min(created_at))
            FROM outbox_event WHERE status = 'pending'
            """
        )
        pending, in_flight, retrying, oldest = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM outbox_event WHERE status = 'dead'")
        (dead,) = cursor.fetchone()
        cursor.execute(
            """
            SELECT count(*),
                   percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY lag_ms),
                   max(lag_ms)
            FROM outbox_event
            WHERE status = 'applied' AND applied_at >= statement_timestamp() - interval '1 hour'
            """
        )
        applied_hour, percentiles, lag_max = cursor.fetchone()
        cursor.execute(
            """
            SELECT aggregate_type, count(*) FILTER (WHERE status = 'pending'), count(*) FILTER (WHERE status = 'dead')
            FROM outbox_event WHERE status IN ('pending', 'dead') GROUP BY aggregate_type ORDER BY aggregate_type
            """
        )
        by_type = {atype: {"pending": p, "dead": d} for atype, p, d in cursor.fetchall()}
        cursor.execute(
            """
            SELECT id, aggregate_type, aggregate_id, version, attempts, last_error, created_at
            FROM outbox_event WHERE status = 'dead' ORDER BY id DESC LIMIT %s
            """,
            [dead_sample],
        )
        dead_letters = [
            {
                "id": i,
                "aggregate": f"{t}:{a}",
                "version": v,
                "attempts": n,
                "last_error": e,
                "created_at": c.isoformat(),
            }
            for i, t, a, v, n, e, c in cursor.fetchall()
        ]
    p50, p95, p99 = percentiles or (None, None, None)
    return {
        "pending": pending,
        "in_flight": in_flight,
        "retrying": retrying,
        "oldest_pending_seconds": float(oldest) if oldest is not None else None,
        "dead": dead,
        "applied_last_hour": applied_hour,
        "lag_ms": {"p50": p50, "p95": p95, "p99": p99, "max": lag_max},
        "by_type": by_type,
        "dead_letters": dead_letters,
    }


def outbox_retry_dead(*, ids: Sequence[int] | None = None, aggregate_type: str | None = None) -> int:
    """Move dead letters back to pending (attempts reset, last error kept). Returns how many."""
    dead = OutboxEvent.objects.filter(status=OutboxStatus.DEAD)
    if ids:
        dead = dead.filter(id__in=list(ids))
    if aggregate_type:
        dead = dead.filter(aggregate_type=aggregate_type)
    from django.db.models.functions import Now

    return dead.update(status=OutboxStatus.PENDING, attempts=0, locked_by="", next_attempt_at=Now())


def outbox_purge_applied(*, older_than_days: int | None = None, chunk: int = 5000) -> int:
    """Delete applied events older than the retention (OUTBOX_RETENTION_DAYS), in chunks."""
    days = older_than_days if older_than_days is not None else settings.OUTBOX_RETENTION_DAYS
    total = 0
    with connection.cursor() as cursor:
        while True:
            cursor.execute(
                """
                DELETE FROM outbox_event WHERE id IN (
                    SELECT id FROM outbox_event
                    WHERE status = 'applied' AND applied_at < statement_timestamp() - make_interval(days => %s)
                    LIMIT %s)
                """,
                [days, chunk],
            )
            total += cursor.rowcount
            if cursor.rowcount < chunk:
                return total


@shared_task(name="sync.outbox_purge", ignore_result=True, time_limit=600, soft_time_limit=590)
def outbox_purge_task() -> int:
    """Delete applied events older than OUTBOX_RETENTION_DAYS."""
    return outbox_purge_applied()


# --- figures for the System page and /metrics ---------------------------------------------------


def outbox_figures() -> dict[str, Any]:
    now = timezone.now()
    pending = OutboxEvent.objects.filter(status=OutboxStatus.PENDING)
    oldest = pending.aggregate(oldest=Min("created_at"))["oldest"]
    lags = sorted(
        OutboxEvent.objects.filter(status=OutboxStatus.APPLIED, applied_at__gte=now - timedelta(hours=1))
        .order_by("-applied_at")
        .values_list("lag_ms", flat=True)[:10000]
    )

    def pct(p: float) -> float | None:
        if not lags:
            return None
        return lags[min(len(lags) - 1, int(round(p * (len(lags) - 1))))] / 1000.0

    return {
        "pending": pending.count(),
        "dead": OutboxEvent.objects.filter(status=OutboxStatus.DEAD).count(),
        "oldest_pending_seconds": (now - oldest).total_seconds() if oldest else 0.0,
        "lag_p50": pct(0.50),
        "lag_p95": pct(0.95),
        "lag_p99": pct(0.99),
    }


OUTBOX_PENDING = gauge("taskforge_outbox_pending", "Outbox events waiting to be applied")
OUTBOX_DEAD = gauge("taskforge_outbox_dead", "Outbox dead letters")
OUTBOX_LAG = gauge("taskforge_outbox_lag_seconds", "Outbox lag (commit to applied)", ("quantile",))
OUTBOX_OLDEST = gauge("taskforge_outbox_oldest_pending_seconds", "Age of the oldest pending event")


def outbox_gauges_refresh() -> None:
    """Before each /metrics scrape (registered by SyncConfig.ready)."""
    figures = outbox_figures()
    OUTBOX_PENDING.set(figures["pending"])
    OUTBOX_DEAD.set(figures["dead"])
    OUTBOX_OLDEST.set(figures["oldest_pending_seconds"])
    for q in ("p50", "p95", "p99"):
        if figures[f"lag_{q}"] is not None:
            OUTBOX_LAG.labels(q).set(figures[f"lag_{q}"])
