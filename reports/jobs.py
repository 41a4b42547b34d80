"""Celery job of the reports: the ETL, every 15 minutes from beat (taskforge/schedule.py)
and on demand from the "Refresh now" button. Registered through CELERY_IMPORTS
(settings.py): this package is not an installed app, so autodiscovery does not see it."""

from __future__ import annotations

import logging

import psycopg
from celery import shared_task

from reports.etl import EtlError, run_etl

logger = logging.getLogger(__name__)


@shared_task(
    name="default.reports_etl",
    bind=True,
    ignore_result=True,
    max_retries=3,
    time_limit=900,
    soft_time_limit=880,
)
def reports_etl(self) -> str:
    """Load the star schema. A connection failure is retried (30 s, 60 s, 120 s); a
    second concurrent run finds the lock held and stops."""
    try:
        result = run_etl()
    except EtlError as exc:
        if isinstance(exc.__cause__, psycopg.OperationalError):
            logger.warning("reports ETL could not connect, retrying: %s", exc)
            raise self.retry(exc=exc, countdown=30 * 2**self.request.retries) from exc
        logger.error("reports ETL failed: %s", exc)
        raise
    logger.info("reports ETL %s", result.summary())
    return result.status
