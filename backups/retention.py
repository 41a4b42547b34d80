"""Retention: backups older than BACKUP_RETENTION_DAYS go (the newest verified one stays),
and directories left half-written by a killed run are removed."""

from __future__ import annotations

import json
import logging
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from backups.create import backup_create, slot_for
from backups.models import BackupRecord, BackupStatus
from backups.restore import backup_time, list_backups
from backups.storage import BACKUP_LOCK_KEY, NAME_FORMAT, VERIFY_FILE, BackupBusy, advisory_lock

logger = logging.getLogger(__name__)

# --- retention ----------------------------------------------------------------------------------


def _verified_ok(path: Path) -> bool:
    if BackupRecord.objects.filter(path=str(path), verify_ok=True).exists():
        return True
    try:
        return bool(json.loads((path / VERIFY_FILE).read_text()).get("ok"))
    except (OSError, ValueError):
        return False


def _abandoned_partials(base: Path, now: datetime) -> list[Path]:
    """Partial directories of runs that died, older than a day. None while a backup runs."""
    candidates = []
    for partial in base.glob(".*.partial"):
        name = partial.name[1 : -len(".partial")]
        try:
            started = datetime.strptime(name, NAME_FORMAT).replace(tzinfo=UTC)
        except ValueError:
            started = datetime.fromtimestamp(partial.stat().st_mtime, UTC)
        if partial.is_dir() and started < now - timedelta(days=1):
            candidates.append(partial)
    if not candidates:
        return []
    try:
        with advisory_lock(BACKUP_LOCK_KEY, "backup"):
            return candidates
    except BackupBusy:
        return []


def backup_retention(*, now: datetime | None = None, dry_run: bool = False, base: Path | None = None) -> list[Path]:
    """Delete backups older than BACKUP_RETENTION_DAYS, never the last verified one nor the
    newest one, plus abandoned partial directories. Returns what was (or would be) deleted."""
    now = now or timezone.now()
    base = Path(base or settings.BACKUP_DIR)
    complete = list_backups(base)
    keep: set[Path] = set()
    if complete:
        keep.add(complete[-1])
    verified = [p for p in complete if _verified_ok(p)]
    if verified:
        keep.add(verified[-1])
    cutoff = now - timedelta(days=settings.BACKUP_RETENTION_DAYS)
    doomed = [p for p in complete if p not in keep and backup_time(p) < cutoff]
    if base.exists():
        doomed += _abandoned_partials(base, now)
    if dry_run:
        return doomed
    for path in doomed:
        shutil.rmtree(path, ignore_errors=True)
        BackupRecord.objects.filter(path=str(path)).update(status=BackupStatus.DELETED)
    return doomed


@shared_task(
    name="backups.backup_run",
    acks_late=True,
    ignore_result=True,
    time_limit=settings.BACKUP_TIME_LIMIT_SECONDS,
    soft_time_limit=settings.BACKUP_TIME_LIMIT_SECONDS - 30,
)
def backup_run_task(slot: str | None = None) -> str:
    """The scheduled backup, then retention. Redelivered while the dump runs: the lock is
    held, stop. Redelivered after it finished: the slot is done, stop. Nothing starts twice."""
    slot = slot or slot_for()
    try:
        result = backup_create(slot=slot)
    except BackupBusy as exc:
        logger.info("backup for %s not started: %s", slot, exc)
        return "busy"
    if result.skipped:
        logger.info("backup for %s not started: %s", slot, result.reason)
        return "skipped"
    deleted = backup_retention()
    logger.info(
        "backup %s done (%s bytes); retention deleted %d", result.record.path, result.record.size_bytes, len(deleted)
    )
    return "ok"
