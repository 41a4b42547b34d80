"""Verify the audit log's hash chain (archive, then live) and report the first break."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.chain import ChainReaderError, verify_chain
from audit.services import audit_seal_all


class Command(BaseCommand):
    help = (
        "Seal pending audit rows, then walk audit_log_archive and audit_log by seal order, recompute every "
        "hash and report the first row that breaks the chain. Exits non-zero on a break."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--no-seal", action="store_true", help="Do not seal pending rows first.")
        parser.add_argument("--batch", type=int, default=2000, help="Rows fetched per round trip (default 2000).")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["batch"] < 1:
            raise CommandError("--batch must be at least 1")
        if not options["no_seal"]:
            sealed = audit_seal_all()
            self.stdout.write(f"sealed {sealed} pending row(s)")
        try:
            report = verify_chain(batch=options["batch"])
        except ChainReaderError as exc:
            raise CommandError(str(exc)) from exc
        parts = ", ".join(f"{name} {count}" for name, count in report.per_source.items())
        self.stdout.write(f"checked {report.checked} sealed row(s) ({parts})")
        if report.unsealed:
            self.stdout.write(
                self.style.WARNING(
                    f"{report.unsealed} row(s) not sealed yet (oldest {report.oldest_unsealed:%Y-%m-%d %H:%M:%S} UTC); "
                    "is the audit.seal beat job running?"
                )
            )
        if report.redacted:
            self.stdout.write(
                f"{report.redacted} row(s) had personal data erased (pseudonymised): links verified, content not"
            )
        if report.broken is not None:
            message = f"audit chain broken at {report.broken.describe()}"
            self.stderr.write(self.style.ERROR(message))
            raise CommandError(message)
        if report.head_seq is not None:
            self.stdout.write(f"chain head: seal_seq {report.head_seq}, hash {report.head_hash}")
            self.stdout.write("(keep a copy of the head hash elsewhere to detect a rewrite of the whole chain)")
        self.stdout.write(self.style.SUCCESS("audit chain intact"))
