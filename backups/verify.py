"""Verification: restore a backup into scratch stores and compare counts and checksums with
its manifest; the result is recorded on the backup (the admin dashboard shows it)."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from backups import crypto as backup_crypto
from backups.models import BackupRecord, BackupStatus
from backups.restore import RestoreResult, backup_time, drop_scratch, load_manifest, restore_locked
from backups.storage import (
    FORMAT_CLEAR,
    MANIFEST,
    NAME_RE,
    SCRATCH_LOCK_KEY,
    STABLE_TEXT_SQL,
    VERIFY_FILE,
    BackupBusy,
    BackupError,
    advisory_lock,
    collection_stats,
    mongo_client,
    pg_connect,
    sha256_file,
    table_stats,
)

logger = logging.getLogger(__name__)

# --- verification -------------------------------------------------------------------------------


@dataclass
class VerifyResult:
    ok: bool
    problems: list[str]
    checked: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "problems": self.problems, **self.checked}


def check_files(path: Path, manifest: dict[str, Any]) -> list[str]:
    """Size and sha256 of every file against the manifest; each problem names its file."""
    problems = []
    listed = manifest.get("files", {})
    for rel, expected in sorted(listed.items()):
        file = path / rel
        if not file.is_file():
            problems.append(f"{rel}: missing")
            continue
        size = file.stat().st_size
        if size < expected["size"]:
            problems.append(f"{rel}: truncated ({size} of {expected['size']} bytes)")
        elif size > expected["size"]:
            problems.append(f"{rel}: corrupted (size {size}, manifest says {expected['size']})")
        elif sha256_file(file) != expected["sha256"]:
            problems.append(f"{rel}: corrupted (sha256 differs from the manifest)")
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        rel = str(file.relative_to(path))
        if rel not in listed and rel not in (MANIFEST, VERIFY_FILE):
            problems.append(f"{rel}: not in the manifest")
    return problems


def verify_backup(path: Path, *, keep_scratch: bool = False) -> VerifyResult:
    """Check the files, restore into scratch, compare counts and checksums; record the result."""
    started = time.monotonic()
    problems: list[str] = []
    checked: dict[str, Any] = {"backup": path.name, "verified_at": datetime.now(UTC).isoformat()}
    record = BackupRecord.objects.filter(path=str(path)).first()
    try:
        manifest = load_manifest(path)
    except BackupError as exc:
        manifest = None
        problems.append(str(exc).replace(str(path) + "/", ""))
    if manifest is not None:
        manifest_sha = sha256_file(path / MANIFEST)
        if record and record.manifest_sha256 and record.manifest_sha256 != manifest_sha:
            problems.append(f"{MANIFEST}: corrupted (sha256 differs from the one recorded when the backup was made)")
        problems += check_files(path, manifest)
        checked["files"] = len(manifest.get("files", {}))
        checked["file_check_seconds"] = round(time.monotonic() - started, 3)
    if manifest is not None and not problems and manifest["format"] != FORMAT_CLEAR:
        # No key at all is the verifier's problem, not the backup's: say so, record nothing.
        try:
            backup_crypto.configured_identities()
        except backup_crypto.BackupKeyError as exc:
            raise BackupError(str(exc)) from None
    if manifest is not None and not problems:
        try:
            with advisory_lock(SCRATCH_LOCK_KEY, "scratch restore"):
                restored = restore_locked(path, manifest, into_live=False, jobs=None)
                checked["restore_seconds"] = restored.seconds
                checked["restore_postgres_seconds"] = restored.postgres_seconds
                checked["restore_documents_seconds"] = restored.mongo_seconds
                checked["decrypt_seconds"] = restored.decrypt_seconds
                compare_started = time.monotonic()
                problems += _compare_scratch(manifest, restored)
                checked["compare_seconds"] = round(time.monotonic() - compare_started, 3)
                if not keep_scratch:
                    drop_scratch()
        except BackupError as exc:
            problems.append(str(exc))
        checked["tables"] = len(manifest["postgres"]["tables"])
        checked["collections"] = len(manifest["mongo"]["collections"])
        checked["rows"] = sum(t["rows"] for t in manifest["postgres"]["tables"].values())
        checked["documents"] = sum(c["documents"] for c in manifest["mongo"]["collections"].values())
    checked["seconds"] = round(time.monotonic() - started, 3)
    result = VerifyResult(ok=not problems, problems=problems, checked=checked)
    _record_verification(path, record, result)
    return result


def _compare_scratch(manifest: dict[str, Any], restored: RestoreResult) -> list[str]:
    problems = []
    with pg_connect(settings.DATABASE_BACKUP, restored.postgres_database) as conn:
        conn.execute(STABLE_TEXT_SQL)
        actual = table_stats(conn)
    expected = manifest["postgres"]["tables"]
    for table, want in sorted(expected.items()):
        got = actual.get(table)
        if got is None:
            problems.append(f"postgres table {table}: missing after restore")
        elif got["rows"] != want["rows"]:
            problems.append(f"postgres table {table}: {got['rows']} rows restored, manifest says {want['rows']}")
        elif got["checksum"] != want["checksum"]:
            problems.append(f"postgres table {table}: content checksum differs from the manifest")
    for table in sorted(set(actual) - set(expected)):
        problems.append(f"postgres table {table}: restored but not in the manifest")
    client = mongo_client()
    try:
        db = client[restored.mongo_database]
        for name, want in sorted(manifest["mongo"]["collections"].items()):
            got = collection_stats(db, name)
            if got["documents"] != want["documents"]:
                problems.append(
                    f"mongo collection {name}: {got['documents']} documents restored, manifest says {want['documents']}"
                )
            elif got["checksum"] != want["checksum"]:
                problems.append(f"mongo collection {name}: content checksum differs from the manifest")
    finally:
        client.close()
    return problems


def _record_verification(path: Path, record: BackupRecord | None, result: VerifyResult) -> None:
    now = timezone.now()
    payload = result.as_json()
    if record is None:
        manifest_sha = sha256_file(path / MANIFEST) if (path / MANIFEST).exists() else ""
        record, _ = BackupRecord.objects.get_or_create(
            path=str(path),
            defaults={
                "status": BackupStatus.OK,
                "started_at": backup_time(path) if NAME_RE.match(path.name) else now,
                "manifest_sha256": manifest_sha,
            },
        )
    BackupRecord.objects.filter(pk=record.pk).update(verified_at=now, verify_ok=result.ok, verify_result=payload)
    try:
        (path / VERIFY_FILE).write_text(json.dumps(payload, indent=2, sort_keys=True))
    except OSError:
        logger.warning("could not write %s", path / VERIFY_FILE, exc_info=True)


def verify_latest() -> VerifyResult | None:
    """Verify the newest complete backup (the weekly job)."""
    for record in BackupRecord.objects.filter(status=BackupStatus.OK).order_by("-started_at"):
        path = Path(record.path)
        if (path / MANIFEST).exists():
            return verify_backup(path)
    return None


def last_verification() -> dict[str, Any]:
    """For the admin dashboard: the last verification, and the last backup proven good."""
    last = BackupRecord.objects.filter(verified_at__isnull=False).order_by("-verified_at").first()
    good = BackupRecord.objects.filter(verify_ok=True).order_by("-started_at").first()
    latest = BackupRecord.objects.order_by("-started_at").first()
    return {"last_check": last, "last_good": good, "latest": latest}


@shared_task(
    name="backups.backup_verify_latest",
    acks_late=True,
    ignore_result=True,
    time_limit=settings.BACKUP_TIME_LIMIT_SECONDS,
    soft_time_limit=settings.BACKUP_TIME_LIMIT_SECONDS - 30,
)
def backup_verify_latest_task() -> str:
    try:
        result = verify_latest()
    except BackupBusy as exc:
        logger.info("verification not started: %s", exc)
        return "busy"
    except BackupError as exc:  # e.g. no age identity on this worker to decrypt with
        logger.error("backup verification could not run: %s", exc)
        return "failed"
    if result is None:
        logger.warning("no complete backup to verify")
        return "none"
    if not result.ok:
        logger.error("backup %s FAILED verification: %s", result.checked.get("backup"), "; ".join(result.problems))
    return "ok" if result.ok else "failed"
