"""Celery jobs of the accounts app (default queue): session-index upkeep and retention."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from accounts.models import LoginAttempt, UserSession
from accounts.sessions import sessions_end, sessions_prune

logger = logging.getLogger(__name__)

SESSION_HISTORY_DAYS = 30
LOGIN_ATTEMPT_RETENTION_DAYS = 90


def sessions_sweep_run(*, now=None) -> dict[str, int]:
    """End index entries of sessions that timed out, forget old history and old sign-in attempts."""
    now = now or timezone.now()
    stale = UserSession.objects.filter(ended_at__isnull=True).filter(
        Q(last_seen_at__lt=now - timedelta(seconds=settings.SESSION_IDLE_SECONDS + 60))
        | Q(created_at__lt=now - timedelta(seconds=settings.SESSION_ABSOLUTE_SECONDS))
    )
    expired = 0
    by_user: dict[int, list[int]] = {}
    for session_id, user_id in stale.values_list("id", "user_id")[:10000]:
        by_user.setdefault(user_id, []).append(session_id)
    for user_id, ids in by_user.items():
        expired += sessions_end(user_id, session_ids=ids, reason="expired")
    pruned = sessions_prune(older_than_days=SESSION_HISTORY_DAYS)
    attempts, _ = LoginAttempt.objects.filter(
        created_at__lt=now - timedelta(days=LOGIN_ATTEMPT_RETENTION_DAYS)
    ).delete()
    return {"expired": expired, "pruned": pruned, "attempts_deleted": attempts}


@shared_task(name="accounts.sessions_sweep", ignore_result=True, time_limit=300, soft_time_limit=290)
def sessions_sweep() -> dict[str, int]:
    result = sessions_sweep_run()
    logger.info("accounts sweep: %s", result)
    return result
