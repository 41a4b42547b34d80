"""`manage.py verify_backup BACKUP`: prove a backup restores, file by file and row by row."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from backups.restore import resolve_backup
from backups.storage import BackupError
from backups.verify import verify_backup


class Command(BaseCommand):
    help = (
        "Check every file's size and sha256 against the manifest, restore into the scratch databases "
        "and compare row/document counts and content checksums. Records the result on the backup."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("backup", help="Backup directory, its name under BACKUP_DIR, or 'latest'.")
        parser.add_argument("--keep-scratch", action="store_true", help="Leave the scratch databases for inspection.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            path = resolve_backup(options["backup"])
            result = verify_backup(path, keep_scratch=options["keep_scratch"])
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        checked = result.checked
        if result.ok:
            self.stdout.write(
                self.style.SUCCESS(
                    f"backup {path.name} verified: {checked.get('files')} files, {checked.get('tables')} tables "
                    f"({checked.get('rows')} rows), {checked.get('collections')} collections "
                    f"({checked.get('documents')} documents) restored and equal to the manifest "
                    f"in {checked['seconds']:.1f}s"
                )
            )
            return
        raise CommandError(f"backup {path.name} FAILED verification:\n  " + "\n  ".join(result.problems))
