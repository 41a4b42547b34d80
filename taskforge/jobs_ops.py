"""Celery jobs for email delivery, digests and backups (imported by taskforge/jobs.py).

Each job takes ids or plain values and calls one function of taskforge/mail.py or
taskforge/backups.py, where the logic and its guarantees are documented.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

from taskforge import backups, mail

logger = logging.getLogger(__name__)


@shared_task(
    name="notifications.email_send",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    max_retries=None,  # bounded by EmailDelivery.attempts (EMAIL_MAX_ATTEMPTS) and the lease
    # No sender may outlive its claim lease, or a redelivered job could take the email over.
    time_limit=settings.EMAIL_SEND_LEASE_SECONDS,
    soft_time_limit=max(1, settings.EMAIL_SEND_LEASE_SECONDS - 2),
)
def email_send(self, delivery_id: int) -> str:  # noqa: ANN001
    outcome = mail.delivery_send(int(delivery_id))
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in)
    return outcome.status


@shared_task(name="notifications.email_sweep", ignore_result=True, time_limit=120, soft_time_limit=110)
def email_sweep() -> int:
    return len(mail.email_sweep())


@shared_task(name="notifications.digest_send", ignore_result=True, time_limit=1800, soft_time_limit=1790)
def digest_send(cadence: str) -> int:
    return mail.digest_send(cadence)


@shared_task(
    name="backups.backup_run",
    acks_late=True,
    ignore_result=True,
    time_limit=settings.BACKUP_TIME_LIMIT_SECONDS,
    soft_time_limit=settings.BACKUP_TIME_LIMIT_SECONDS - 30,
)
def backup_run(slot: str | None = None) -> str:
    """The scheduled backup. Redelivered while the dump runs: the lock is held, stop.
    Redelivered after it finished: the slot is done, stop. Either way nothing starts twice."""
    slot = slot or backups.slot_for()
    try:
        result = backups.backup_create(slot=slot)
    except backups.BackupBusy as exc:
        logger.info("backup for %s not started: %s", slot, exc)
        return "busy"
    if result.skipped:
        logger.info("backup for %s not started: %s", slot, result.reason)
        return "skipped"
    deleted = backups.backup_retention()
    logger.info(
        "backup %s done (%s bytes); retention deleted %d", result.record.path, result.record.size_bytes, len(deleted)
    )
    return "ok"


@shared_task(
    name="backups.backup_verify_latest",
    acks_late=True,
    ignore_result=True,
    time_limit=settings.BACKUP_TIME_LIMIT_SECONDS,
    soft_time_limit=settings.BACKUP_TIME_LIMIT_SECONDS - 30,
)
def backup_verify_latest() -> str:
    try:
        result = backups.verify_latest()
    except backups.BackupBusy as exc:
        logger.info("verification not started: %s", exc)
        return "busy"
    except backups.BackupError as exc:  # e.g. no age identity on this worker to decrypt with
        logger.error("backup verification could not run: %s", exc)
        return "failed"
    if result is None:
        logger.warning("no complete backup to verify")
        return "none"
    if not result.ok:
        logger.error("backup %s FAILED verification: %s", result.checked.get("backup"), "; ".join(result.problems))
    return "ok" if result.ok else "failed"
