"""`manage.py sync_status`: the outbox at a glance (pending, oldest, dead letters, lag)."""

from __future__ import annotations

import json
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sync.models import OutboxEvent, OutboxStatus, SyncProbe
from sync.probe import probe_save
from sync.status import outbox_status


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f} ms" if value < 10_000 else f"{value / 1000:.1f} s"


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


class Command(BaseCommand):
    help = "Show pending and dead outbox events and relay lag percentiles over the last hour."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="print the figures as JSON")
        parser.add_argument(
            "--probe",
            action="store_true",
            help="also write a heartbeat probe event and wait until the running relay applies it",
        )
        parser.add_argument("--wait", type=float, default=20.0, help="seconds to wait for the probe (default 20)")

    def handle(self, *args: Any, **options: Any) -> None:
        status = outbox_status()
        if options["probe"]:
            status["probe"] = self._probe(options["wait"])
        if options["json"]:
            self.stdout.write(json.dumps(status, indent=2, default=str))
        else:
            self._print(status)
        if options["probe"] and not status["probe"]["applied"]:
            raise CommandError(f"the heartbeat probe was not applied within {options['wait']:.0f} s")

    def _probe(self, wait: float) -> dict[str, Any]:
        """Round trip through the real relay (beat + worker): the fast path is bypassed."""

        existing = SyncProbe.objects.filter(name="heartbeat").order_by("pk").first()
        started = time.monotonic()
        probe = probe_save(name="heartbeat", probe_id=existing.pk if existing else None, fast_path=False)
        event = OutboxEvent.objects.filter(aggregate_type="probe", aggregate_id=str(probe.pk), version=probe.version)
        while time.monotonic() - started < wait:
            row = event.values("status", "lag_ms").first()
            if row and row["status"] == OutboxStatus.APPLIED:
                return {"applied": True, "lag_ms": row["lag_ms"], "seconds": round(time.monotonic() - started, 2)}
            time.sleep(0.25)
        return {"applied": False, "seconds": round(time.monotonic() - started, 2)}

    def _print(self, status: dict[str, Any]) -> None:
        write = self.stdout.write
        write(
            f"pending: {status['pending']} (in flight {status['in_flight']}, waiting to retry {status['retrying']}); "
            f"oldest pending: {_age(status['oldest_pending_seconds'])}"
        )
        dead = status["dead"]
        line = f"dead letters: {dead}" + (" (manage.py sync_retry puts them back)" if dead else "")
        write(self.style.ERROR(line) if dead else line)
        lag = status["lag_ms"]
        write(
            f"lag, last hour ({status['applied_last_hour']} applied): p50 {_ms(lag['p50'])}, p95 {_ms(lag['p95'])}, "
            f"p99 {_ms(lag['p99'])}, max {_ms(lag['max'])}"
        )
        for atype, counts in status["by_type"].items():
            write(f"  {atype}: pending {counts['pending']}, dead {counts['dead']}")
        for letter in status["dead_letters"]:
            write(
                f"  dead #{letter['id']} {letter['aggregate']} v{letter['version']} after {letter['attempts']} "
                f"attempts: {letter['last_error'][:200]}"
            )
        if "probe" in status:
            probe = status["probe"]
            if probe["applied"]:
                text = f"probe: applied by the relay in {probe['seconds']} s (lag {probe['lag_ms']} ms)"
                write(self.style.SUCCESS(text))
            else:
                text = f"probe: NOT applied after {probe['seconds']} s (are beat and a sync worker running?)"
                write(self.style.ERROR(text))
