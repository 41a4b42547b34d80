"""Celery jobs of the audit app: sealing the hash chain, retention, an RLS probe.

Task names start with "audit.", which no queue route matches, so they run on the
default queue (taskforge/schedule.py).
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import connection

from audit.rlscheck import visible_counts
from audit.services import SEAL_BATCH, audit_archive_expired, audit_seal_pending

logger = logging.getLogger(__name__)


@shared_task(name="audit.seal", ignore_result=True, time_limit=120, soft_time_limit=110)
def audit_seal(max_batches: int = 20) -> int:
    """Beat runs this every few seconds: link newly committed audit rows into the chain.

    If another sealer holds the lock it simply returns; that sealer takes the rows.
    """
    total = 0
    for _ in range(max_batches):
        sealed = audit_seal_pending(limit=SEAL_BATCH, wait=False)
        if sealed < 0:
            break
        total += sealed
        if sealed < SEAL_BATCH:
            break
    if total:
        logger.info("sealed %s audit row(s)", total)
    return total


@shared_task(name="audit.retention", ignore_result=True, time_limit=3600, soft_time_limit=3590)
def audit_retention() -> int:
    """Weekly: move audit rows past AUDIT_RETENTION_DAYS into audit_log_archive."""
    moved = audit_archive_expired()
    logger.info("archived %s audit row(s)", moved)
    return moved


@shared_task(name="audit.rls_probe", ignore_result=False, time_limit=60, soft_time_limit=55)
def rls_probe() -> dict[str, object]:
    """Report what this task's database context can see (operations check and tests).

    Returns the context as the database has it and the number of visible rows of
    every protected table; counts only, never row contents.
    """

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('rls.user_id', true), current_setting('rls.role', true), "
            "current_setting('rls.request_id', true)"
        )
        user_id, role, request_id = cursor.fetchone()
    return {"user_id": user_id or "", "role": role or "", "request_id": request_id or "", "visible": visible_counts()}
