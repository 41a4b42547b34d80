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
        "sync-relay-sweep": {"task": "sync.relay_sweep", "schedule": 5.0},
        "sync-reconcile-report": {"task": "sync.reconcile_report", "schedule": crontab(minute=17)},
        "backups-daily": {"task": "backups.backup_run", "schedule": crontab(hour=backup_hour, minute=0)},
        "backups-verify-weekly": {
            "task": "backups.backup_verify_latest",
            "schedule": crontab(day_of_week="sun", hour=(backup_hour + 2) % 24, minute=0),
        },
    }
