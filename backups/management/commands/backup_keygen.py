"""`manage.py backup_keygen FILE`: a new age key pair for encrypted backups (as `age-keygen -o FILE`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from backups.crypto import write_identity_file


class Command(BaseCommand):
    help = (
        "Write a new age identity (private key) to FILE, mode 0600, never over an existing file, "
        "and print its public key for BACKUP_AGE_RECIPIENTS."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="Where to write the identity (keep it off the backup volume).")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        try:
            recipient = write_identity_file(path)
        except FileExistsError:
            raise CommandError(f"{path} exists; not overwriting a key") from None
        except OSError as exc:
            raise CommandError(f"cannot write {path}: {exc}") from None
        self.stdout.write(f"identity written to {path}")
        self.stdout.write(f"public key: {recipient}")
        self.stdout.write(
            "New backups: BACKUP_AGE_RECIPIENTS=<this public key>. Restores: list this file first in "
            "BACKUP_AGE_IDENTITY_FILES and keep the previous identity files after it until the "
            "backups made with them have aged out."
        )
