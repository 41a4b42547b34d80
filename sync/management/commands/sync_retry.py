"""`manage.py sync_retry`: move outbox dead letters back to pending."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from sync.models import OutboxEvent, OutboxStatus
from sync.status import outbox_retry_dead


class Command(BaseCommand):
    help = "Move dead-letter outbox events back to pending (attempts reset, last error kept)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--id", type=int, action="append", dest="ids", help="only this event id (repeatable)")
        parser.add_argument("--type", dest="aggregate_type", help="only events of this aggregate type")
        parser.add_argument("--dry-run", action="store_true", help="count, change nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        ids, aggregate_type = options["ids"], options["aggregate_type"]
        if options["dry_run"]:
            dead = OutboxEvent.objects.filter(status=OutboxStatus.DEAD)
            if ids:
                dead = dead.filter(id__in=ids)
            if aggregate_type:
                dead = dead.filter(aggregate_type=aggregate_type)
            self.stdout.write(f"{dead.count()} dead letters would be moved back to pending")
            return
        moved = outbox_retry_dead(ids=ids, aggregate_type=aggregate_type)
        self.stdout.write(self.style.SUCCESS(f"moved {moved} dead letters back to pending; the relay applies them"))
