"""Celery jobs of the platform: the outbox relay, its reconcile report and purge."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

from taskforge.outbox import outbox_purge_applied, outbox_reconcile, relay_drain

logger = logging.getLogger(__name__)


@shared_task(name="sync.relay_sweep", ignore_result=True, time_limit=120, soft_time_limit=110)
def relay_sweep() -> int:
    """Beat runs this every few seconds: apply due events for up to OUTBOX_SWEEP_SECONDS.

    If a backlog is left (a catch-up after an outage), queue a follow-up sweep so the
    catch-up continues without waiting for beat and idle workers can join it.
    """
    result = relay_drain(budget_seconds=settings.OUTBOX_SWEEP_SECONDS)
    if result.backlog and not result.unavailable:
        try:
            relay_sweep.apply_async(expires=settings.OUTBOX_SWEEP_SECONDS * 3)
        except Exception:  # noqa: BLE001 - beat sends the next sweep anyway
            logger.warning("could not queue a follow-up relay sweep", exc_info=True)
    return result.applied


@shared_task(name="sync.relay_event", ignore_result=True, time_limit=60, soft_time_limit=55)
def relay_event(event_ids: list[int]) -> int:
    """Fast path through a worker (OUTBOX_FAST_PATH=celery), queued after commit.

    Runs one relay batch: the oldest due events first, so these events (unless another
    relay already has them) and everything due before them. Under load one message then
    applies many events in one batch, and the messages behind it find little to do.
    """
    if not event_ids:
        return 0
    return relay_drain().applied


@shared_task(name="sync.reconcile_report", ignore_result=True, time_limit=1800, soft_time_limit=1780)
def reconcile_report() -> dict[str, int]:
    """Hourly, report-only: log drift between PostgreSQL, MongoDB and the projections."""
    summary = {}
    for report in outbox_reconcile(fix=False):
        summary[report.aggregate_type] = report.drift
        if report.drift or report.errors:
            logger.warning(
                "sync drift %s: missing=%s orphaned=%s stale=%s errors=%s (run manage.py sync_reconcile --fix)",
                report.aggregate_type,
                report.missing,
                report.orphaned,
                report.stale,
                report.errors,
            )
        else:
            logger.info(
                "sync %s: no drift (%s source rows, %s in flight)",
                report.aggregate_type,
                report.source,
                report.in_flight,
            )
    return summary


@shared_task(name="sync.outbox_purge", ignore_result=True, time_limit=600, soft_time_limit=590)
def outbox_purge() -> int:
    """Delete applied events older than OUTBOX_RETENTION_DAYS."""
    return outbox_purge_applied()


@shared_task(name="sync.ping", ignore_result=False)
def ping(value: str) -> dict[str, str]:
    """Round trip through the broker and a worker; used by readiness checks and tests."""
    from taskforge.dbcontext import context_current

    ctx = context_current()
    return {"echo": value, "request_id": ctx.request_id, "user_id": ctx.user_id}


# Email delivery, digests and backups (owned by the workers helper): keep this import.
from taskforge import jobs_ops  # noqa: E402, F401
