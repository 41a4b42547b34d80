"""`manage.py backup`: one backup of both stores into a timestamped directory under BACKUP_DIR."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from backups.create import backup_create
from backups.retention import backup_retention
from backups.storage import BackupBusy, BackupError


def human_size(size: int | None) -> str:
    value = float(size or 0)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.1f} {unit}" if unit != "B" else f"{int(value)} B"
        value /= 1024
    return f"{value:.1f} GiB"


class Command(BaseCommand):
    help = "Back up PostgreSQL (pg_dump -Fc, backup role) and the document database, with a manifest."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--slot", help="Scheduled slot name: a slot already backed up is not done again.")
        parser.add_argument("--retention", action="store_true", help="Apply the retention policy afterwards.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = backup_create(slot=options["slot"])
        except BackupBusy as exc:
            raise CommandError(str(exc)) from None
        except (BackupError, OSError) as exc:
            raise CommandError(f"backup failed: {exc}") from None
        record = result.record
        if result.skipped:
            self.stdout.write(f"nothing to do: {result.reason}")
            return
        manifest = result.manifest
        tables = manifest["postgres"]["tables"]
        collections = manifest["mongo"]["collections"]
        self.stdout.write(self.style.SUCCESS(f"backup written: {record.path}"))
        self.stdout.write(
            f"  size {human_size(record.size_bytes)} in {manifest['duration_seconds']:.1f}s; "
            f"{len(tables)} tables, {sum(t['rows'] for t in tables.values())} rows; "
            f"{len(collections)} collections, {sum(c['documents'] for c in collections.values())} documents "
            f"({manifest['mongo']['tool']})"
        )
        if options["retention"]:
            for path in backup_retention():
                self.stdout.write(f"  retention deleted {path}")
