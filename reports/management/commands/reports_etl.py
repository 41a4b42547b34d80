"""manage.py reports_etl: load the reports star schema now (owned by the reports helper;
the code lives in reports/etl.py)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from reports.etl import EtlError, run_etl


class Command(BaseCommand):
    help = "Extract from the primary and load the reports star schema (idempotent; safe to run any time)."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = run_etl()
        except EtlError as exc:
            raise CommandError(str(exc)) from exc
        if result.status == "busy":
            raise CommandError("another reports load is running; try again when it has finished")
        self.stdout.write(self.style.SUCCESS(f"reports ETL {result.summary()}"))
        for table, count in result.rows.items():
            self.stdout.write(f"  star.{table}: {count} rows ({result.changes.get(table, 0)} changed)")
