"""`manage.py backup_retention`: delete old backups, never the last verified one."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from backups.retention import backup_retention


class Command(BaseCommand):
    help = (
        "Delete backups older than BACKUP_RETENTION_DAYS, keeping the newest one and the last "
        "verified one, and partial directories left by crashed runs."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Only list what would be deleted.")

    def handle(self, *args: Any, **options: Any) -> None:
        paths = backup_retention(dry_run=options["dry_run"])
        verb = "would delete" if options["dry_run"] else "deleted"
        for path in paths:
            self.stdout.write(f"{verb} {path}")
        self.stdout.write(f"{len(paths)} backup(s) {verb}; retention {settings.BACKUP_RETENTION_DAYS} days")
