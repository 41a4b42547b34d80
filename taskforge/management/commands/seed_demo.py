"""Seed demo data (idempotent): each app's `seed.py` provides `seed_demo(stdout)`."""

from __future__ import annotations

import importlib
from typing import Any

from django.core.management.base import BaseCommand

from taskforge.dbcontext import DbContext, db_context

SEED_APPS = ("accounts", "bookings", "tasks")


class Command(BaseCommand):
    help = "Create demo users, teams, trips, bookings and tasks (safe to run again)."

    def handle(self, *args: Any, **options: Any) -> None:
        from django.conf import settings
        from django.core.management.base import CommandError

        if settings.PRODUCTION:
            # Demo accounts have published passwords, one of them a superuser.
            raise CommandError("seed_demo refuses to run with DJANGO_SETTINGS_PROFILE=prod.")
        # Seeding acts as a system admin so RLS lets it see what it creates.
        with db_context(DbContext(role="system", user_agent="manage.py seed_demo")):
            for app in SEED_APPS:
                try:
                    module = importlib.import_module(f"{app}.seed")
                except ModuleNotFoundError as exc:
                    if exc.name != f"{app}.seed":
                        raise
                    continue
                module.seed_demo(self.stdout)
        self.stdout.write(self.style.SUCCESS("demo data ready"))
