"""Print the demo logins and what each person may do (the `make run` banner)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from accounts.seed import DEMO_PASSWORD, demo_logins


class Command(BaseCommand):
    help = "List the demo accounts made by seed_demo, with what each may do."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"  Demo logins (password: {DEMO_PASSWORD}):")
        width = max(len(email) for email, _ in demo_logins())
        for email, summary in demo_logins():
            self.stdout.write(f"    {email.ljust(width)}  {summary}")
