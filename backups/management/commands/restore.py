"""`manage.py restore BACKUP --target scratch | --into-live`: restore a backup of both stores.

Scratch: a PostgreSQL database `<db>_scratch` and a document database `<db>_scratch` on the
same document server. pg_restore runs as the PostgreSQL superuser (DATABASE_SUPERUSER_URL):
the owner role is itself subject to FORCE ROW LEVEL SECURITY, which pg_restore cannot work
under; ownership and grants are restored as dumped (the roles must exist: `bootstrap_db`).
Live: overwrites the site's databases; stop the site and the workers first. It asks for a
typed confirmation phrase (or --confirm with the exact phrase when stdin is not a terminal).
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from backups.restore import load_manifest, resolve_backup, restore_backup
from backups.storage import BackupError, live_db_name, mongo_db_name
from backups.verify import check_files


def confirmation_phrase(backup_name: str) -> str:
    return f"overwrite {live_db_name()} with {backup_name}"


class Command(BaseCommand):
    help = "Restore a backup into the scratch databases (default) or, with --into-live, over the live ones."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("backup", help="Backup directory, its name under BACKUP_DIR, or 'latest'.")
        target = parser.add_mutually_exclusive_group()
        target.add_argument("--target", choices=["scratch"], default="scratch", help="Where to restore (scratch).")
        target.add_argument("--into-live", action="store_true", help="Overwrite the live databases.")
        parser.add_argument("--confirm", help="The confirmation phrase, for non-interactive --into-live.")
        parser.add_argument("--skip-file-check", action="store_true", help="Do not check sizes and sha256 first.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            path = resolve_backup(options["backup"])
            manifest = load_manifest(path)
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        if not options["skip_file_check"]:
            problems = check_files(path, manifest)
            if problems:
                raise CommandError("backup is damaged, not restoring:\n  " + "\n  ".join(problems))
        into_live = options["into_live"]
        if into_live:
            self._confirm(path.name, options.get("confirm"))
        try:
            result = restore_backup(path, into_live=into_live)
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"restored {path.name} into PostgreSQL database {result.postgres_database} and document database "
                f"{result.mongo_database} in {result.seconds:.1f}s"
            )
        )
        if into_live:
            self.stdout.write("Run `manage.py sync_reconcile` to repair any drift between the two stores.")

    def _confirm(self, backup_name: str, given: str | None) -> None:
        phrase = confirmation_phrase(backup_name)
        if given is not None:
            if given.strip() != phrase:
                raise CommandError(f"confirmation does not match; the phrase is: {phrase}")
            return
        if not sys.stdin.isatty():
            raise CommandError(
                f'--into-live overwrites the live databases. stdin is not a terminal: pass --confirm "{phrase}"'
            )
        self.stdout.write(
            self.style.WARNING(
                f"This OVERWRITES the live PostgreSQL database {live_db_name()} and document database "
                f"{mongo_db_name()} with backup {backup_name}. Stop the site and the workers first."
            )
        )
        self.stdout.write(f"Type exactly: {phrase}")
        typed = input("> ")
        if typed.strip() != phrase:
            raise CommandError("confirmation does not match; nothing was changed")
