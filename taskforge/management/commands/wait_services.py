"""Wait until PostgreSQL, the document server, Redis and the broker answer."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from taskforge.health import CHECKS, _timed


class Command(BaseCommand):
    help = "Wait for every dependency to answer (or fail after --timeout seconds)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--timeout", type=float, default=30.0)

    def handle(self, *args: Any, timeout: float, **options: Any) -> None:
        deadline = time.monotonic() + timeout
        while True:
            results = {name: _timed(check) for name, check in CHECKS.items()}
            failed = {name: r for name, r in results.items() if r["status"] != "ok"}
            if not failed:
                self.stdout.write("all services ready: " + ", ".join(results))
                return
            if time.monotonic() > deadline:
                raise CommandError("not ready: " + "; ".join(f"{n}: {r.get('error')}" for n, r in failed.items()))
            time.sleep(0.5)
