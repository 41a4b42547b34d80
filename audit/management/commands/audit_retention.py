"""Move audit rows past the retention period into audit_log_archive."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.services import OwnerConnectionError, audit_archive_expired


class Command(BaseCommand):
    help = (
        "Seal pending audit rows, then move sealed rows older than AUDIT_RETENTION_DAYS into audit_log_archive "
        "(a prefix of the hash chain, so archive + live still verify as one chain). Archiving connects as the "
        "owner role (DATABASE_OWNER_URL): only the owner may execute audit_archive()."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            help=f"Retention period in days (default AUDIT_RETENTION_DAYS = {settings.AUDIT_RETENTION_DAYS}).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["days"] if options["days"] is not None else settings.AUDIT_RETENTION_DAYS
        if days < 1:
            raise CommandError("--days must be at least 1")
        try:
            moved = audit_archive_expired(days=days)
        except OwnerConnectionError as exc:  # only the owner may archive (audit_archive is not PUBLIC)
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"archived {moved} audit row(s) older than {days} day(s)"))
