"""`manage.py sync_reconcile [--fix]`: compare PostgreSQL, MongoDB and the search projections."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sync.reconcile import DriftReport, outbox_reconcile, outbox_reconcilers

SHOW = 20  # ids listed per finding; --json lists them all


class Command(BaseCommand):
    help = (
        "Find missing, orphaned and stale MongoDB documents and projection rows for every aggregate "
        "type with a registered reconciler; --fix re-emits outbox events and deletes orphans."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--fix", action="store_true", help="repair what is found")
        parser.add_argument("--type", action="append", dest="types", help="only this aggregate type (repeatable)")
        parser.add_argument("--json", action="store_true", help="print the reports as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        types = options["types"]
        known = sorted(outbox_reconcilers())
        if types and set(types) - set(known):
            raise CommandError(f"unknown aggregate type(s) {sorted(set(types) - set(known))}; known: {known}")
        reports = outbox_reconcile(aggregate_types=types, fix=options["fix"])
        if options["json"]:
            self.stdout.write(json.dumps([r.as_dict() for r in reports], indent=2, default=str))
        else:
            for report in reports:
                self._print(report, options["fix"])
        errors = [r for r in reports if r.errors]
        if errors:
            raise CommandError(f"reconciler errors in: {', '.join(r.aggregate_type for r in errors)}")

    def _print(self, report: DriftReport, fix: bool) -> None:
        sides = [f"{report.source} source rows"]
        if report.documents is not None:
            sides.append(f"{report.documents} documents")
        if report.projection is not None:
            sides.append(f"{report.projection} projection rows")
        header = f"{report.aggregate_type}: {', '.join(sides)}; {report.in_flight} in flight"
        if report.dead_letters:
            header += f"; {report.dead_letters} dead letters"
        style = self.style.WARNING if report.drift else self.style.SUCCESS
        self.stdout.write(style(f"{header}; drift {report.drift}"))
        for kind in ("missing", "orphaned", "stale"):
            for store, ids in getattr(report, kind).items():
                more = f" (+{len(ids) - SHOW} more)" if len(ids) > SHOW else ""
                self.stdout.write(f"  {kind} in {store}: {len(ids)}: {', '.join(ids[:SHOW])}{more}")
        if fix and report.repaired:
            done = ", ".join(f"{name} {count}" for name, count in sorted(report.repaired.items()))
            self.stdout.write(self.style.SUCCESS(f"  repaired: {done}"))
        for error in report.errors:
            self.stdout.write(self.style.ERROR(f"  error: {error}"))
