"""Digest emails: the notifications a person asked to receive hourly, daily or weekly, sent
as one email listing everything since their last digest."""

from __future__ import annotations

import logging
from datetime import UTC

from celery import shared_task
from django.db import transaction

from mail.delivery import DIGEST_CADENCES, DIGEST_MAX_ITEMS, MailError, absolute_url, mail_queue
from mail.models import DigestItem, DigestStatus, EmailDelivery
from mail.preferences import preferences_for

logger = logging.getLogger(__name__)


def digest_send(cadence: str) -> int:
    """Send one digest email per user whose cadence is `cadence` (and flush the pending
    items of users who switched to immediate or whose preferences were unreadable).
    Returns the number of digest emails queued. Safe to run twice: items are batched
    into their email in one transaction, with a key made of the batch's item ids."""
    if cadence not in DIGEST_CADENCES:
        raise MailError(f"Unknown digest cadence {cadence!r}.")
    user_ids = list(DigestItem.objects.filter(status=DigestStatus.PENDING).values_list("user_id", flat=True).distinct())
    sent = 0
    for user_id in user_ids:
        prefs = preferences_for(user_id)
        if prefs is None:
            continue  # still unreadable: try again on the next run
        if not prefs.email:
            DigestItem.objects.filter(user_id=user_id, status=DigestStatus.PENDING).update(status=DigestStatus.DROPPED)
            continue
        if prefs.cadence != cadence and not (prefs.cadence == "immediate" and cadence == "hourly"):
            continue
        if _digest_user(user_id, cadence if prefs.cadence != "immediate" else "hourly"):
            sent += 1
    return sent


def _digest_user(user_id: int, cadence: str) -> bool:
    with transaction.atomic():
        items = list(
            DigestItem.objects.select_for_update(skip_locked=True)
            .filter(user_id=user_id, status=DigestStatus.PENDING)
            .order_by("id")
        )
        if not items:
            return False
        last = (
            EmailDelivery.objects.filter(user_id=user_id, kind="digest")
            .order_by("-created_at")
            .values_list("created_at", flat=True)
            .first()
        )
        since = last or items[0].created_at
        shown = items[:DIGEST_MAX_ITEMS]
        delivery = mail_queue(
            kind="digest",
            to_user_id=user_id,
            context={
                "cadence": cadence,
                "since": since.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"),
                "count": len(items),
                "more": max(0, len(items) - len(shown)),
                "items": [
                    {"kind": i.kind, "summary": i.summary, "url": absolute_url(i.url), "at": i.created_at.isoformat()}
                    for i in shown
                ],
            },
            idempotency_key=f"digest:{user_id}:{items[0].pk}-{items[-1].pk}",
        )
        DigestItem.objects.filter(pk__in=[i.pk for i in items]).update(status=DigestStatus.BATCHED, delivery=delivery)
    return True


@shared_task(name="notifications.digest_send", ignore_result=True, time_limit=1800, soft_time_limit=1790)
def digest_send_task(cadence: str) -> int:
    return digest_send(cadence)
