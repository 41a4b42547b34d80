"""Celery queues, routes and the beat schedule, in code (read by settings.py)."""

from __future__ import annotations

from typing import Any

from celery.schedules import crontab
from kombu import Exchange, Queue

QUEUE_NAMES = ("default", "notifications", "sync", "backups")


def celery_queues(prefix: str) -> list[Queue]:
    exchange = Exchange(f"{prefix}taskforge", type="direct")
    return [Queue(f"{prefix}{name}", exchange, routing_key=name) for name in QUEUE_NAMES]


def celery_routes(prefix: str) -> dict[str, dict[str, str]]:
    # Task names are "<queue>.<name>", so the name says where it runs.
    return {
        f"{name}.*": {"queue": f"{prefix}{name}", "exchange": f"{prefix}taskforge", "routing_key": name}
        for name in QUEUE_NAMES
        if name != "default"
    }


def beat_schedule(*, backup_hour: int) -> dict[str, dict[str, Any]]:
    return {
        # A sweep not started within 10 s is dropped: the next one is already queued.
        "sync-relay-sweep": {"task": "sync.relay_sweep", "schedule": 5.0, "options": {"expires": 10}},
        "sync-reconcile-report": {"task": "sync.reconcile_report", "schedule": crontab(minute=17)},
        "sync-outbox-purge": {"task": "sync.outbox_purge", "schedule": crontab(minute=41)},
        # Audit (audit/jobs.py, default queue): link new rows into the hash chain every few
        # seconds; weekly, move rows past AUDIT_RETENTION_DAYS to the archive.
        "audit-seal": {"task": "audit.seal", "schedule": 5.0, "options": {"expires": 10}},
        "audit-retention-weekly": {
            "task": "audit.retention",
            "schedule": crontab(day_of_week="sun", hour=(backup_hour + 3) % 24, minute=30),
        },
        "backups-daily": {"task": "backups.backup_run", "schedule": crontab(hour=backup_hour, minute=0)},
        "backups-verify-weekly": {
            "task": "backups.backup_verify_latest",
            "schedule": crontab(day_of_week="sun", hour=(backup_hour + 2) % 24, minute=0),
        },
        # Accounts (accounts/jobs.py, default queue): end timed-out sessions in the session
        # index, forget old session history and sign-in attempts.
        "accounts-sessions-sweep": {"task": "accounts.sessions_sweep", "schedule": crontab(minute="*/30")},
        # Email: re-queue deliveries whose message was lost; digests per cadence (mail/delivery.py).
        "notifications-email-sweep": {"task": "notifications.email_sweep", "schedule": 60.0},
        # Waiting lists (bookings/services/waitlist.py): expire offers, offer seats a round missed.
        "notifications-waitlist-sweep": {
            "task": "notifications.waitlist_sweep",
            "schedule": 60.0,
            "options": {"expires": 50},
        },
        # Webhooks (webhooks/services/deliveries.py): queue deliveries that are due (retries,
        # and any whose message was lost); a sweep not started within 30 s is dropped.
        "notifications-webhook-sweep": {
            "task": "notifications.webhook_sweep",
            "schedule": 15.0,
            "options": {"expires": 30},
        },
        "notifications-webhook-purge": {"task": "notifications.webhook_purge", "schedule": crontab(minute=53)},
        # In-app notifications for tasks due within 24 hours and overdue ones (tasks/services/notifications.py).
        "notifications-due-scan": {"task": "notifications.due_scan", "schedule": crontab(minute="*/15")},
        "notifications-digest-hourly": {
            "task": "notifications.digest_send",
            "schedule": crontab(minute=5),
            "args": ("hourly",),
        },
        "notifications-digest-daily": {
            "task": "notifications.digest_send",
            "schedule": crontab(hour=7, minute=10),
            "args": ("daily",),
        },
        "notifications-digest-weekly": {
            "task": "notifications.digest_send",
            "schedule": crontab(day_of_week="mon", hour=7, minute=20),
            "args": ("weekly",),
        },
        # Reports: reload the star schema (reports/jobs.py, default queue). Idempotent;
        # a run not started within 10 minutes is dropped: the next one is already due.
        "reports-etl": {"task": "default.reports_etl", "schedule": crontab(minute="*/15"), "options": {"expires": 600}},
    }
