"""`manage.py migrate_stores`: migrate PostgreSQL (`default`) and then the document store
(`mongodb`: its collections and indexes). Run it as the owner role (DJANGO_DB_ROLE=owner):
the post-migrate signal of django-rls touches PostgreSQL tables for either alias."""

from __future__ import annotations

from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand

from taskforge.routers import DOCUMENTS


class Command(BaseCommand):
    help = "Apply migrations to PostgreSQL and to the MongoDB document store."

    def handle(self, *args: Any, **options: Any) -> None:
        verbosity = options["verbosity"]
        call_command("migrate", database="default", interactive=False, verbosity=verbosity)
        call_command("migrate", database=DOCUMENTS, interactive=False, verbosity=verbosity)
