"""Migration 0006 moves the old site roles to capabilities without widening anyone's access,
and says what it did. Run on a scratch database migrated to 0005, filled, then to 0006."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from urllib.parse import quote

import psycopg
import pytest
from django.conf import settings

from taskforge.testing.plugin import ROOT, TEST_ID


def _connect(config: dict, dbname: str) -> psycopg.Connection:
    return psycopg.connect(
        host=config.get("HOST") or None, port=config.get("PORT") or None, user=config["USER"],
        password=config.get("PASSWORD") or None, dbname=dbname, autocommit=True,
    )  # fmt: skip


def _url(config: dict, dbname: str) -> str:
    auth = quote(config["USER"]) + (f":{quote(config['PASSWORD'])}" if config.get("PASSWORD") else "")
    return f"postgres://{auth}@{config.get('HOST') or '127.0.0.1'}:{config.get('PORT') or 5432}/{dbname}"


MIGRATE_PARTIAL = """
import sys
import django
django.setup()
from django.core.management import call_command
from django.db.models.signals import post_migrate
from django_rls.models import enable_rls_on_migrate
from taskforge.dbcontext import context_for_command, context_set
post_migrate.disconnect(enable_rls_on_migrate)
context_set(context_for_command("migrate"))
call_command("migrate", sys.argv[1], sys.argv[2], interactive=False, verbosity=0)
"""


class Scratch:
    """An empty database owned by the owner role, migrated with the real `manage.py migrate`."""

    def __init__(self, name: str) -> None:
        self.name = name
        owner = settings.DATABASE_OWNER
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "taskforge.settings",
            "DJANGO_DB_ROLE": "owner",
            "DATABASE_OWNER_URL": _url(owner, name),
            "DATABASE_URL": _url(settings.DATABASES["default"], name),
        }

    def migrate(self, app: str, target: str) -> str:
        """`migrate app target` as an operator would run it, except that django_rls's
        post_migrate hook (which enables RLS on every model's table, including tables a
        partial migration has not made yet) is left out."""
        done = subprocess.run(
            [sys.executable, "-c", MIGRATE_PARTIAL, app, target],
            cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    def connect(self) -> psycopg.Connection:
        return _connect(settings.DATABASE_OWNER, self.name)


@pytest.fixture
def scratch() -> Iterator[Scratch]:
    name = f"tf_migration_{TEST_ID}".replace("-", "_")
    owner = settings.DATABASE_OWNER["USER"]
    with _connect(settings.DATABASE_SUPERUSER, "postgres") as pg:
        pg.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        pg.execute(f'CREATE DATABASE "{name}" OWNER "{owner}"')
    with _connect(settings.DATABASE_SUPERUSER, name) as pg:
        pg.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    try:
        yield Scratch(name)
    finally:
        with _connect(settings.DATABASE_SUPERUSER, "postgres") as pg:
            pg.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _insert_user(cursor, email: str, role: str, *, is_staff: bool = False) -> int:
    cursor.execute(
        "INSERT INTO accounts_user (password, email, display_name, role, is_active, is_staff, is_superuser, "
        "email_verified, date_joined, profile_version) VALUES ('!', %s, '', %s, true, %s, %s, true, now(), 0) "
        "RETURNING id",
        [email, role, is_staff, is_staff],
    )
    return cursor.fetchone()[0]


def test_roles_become_capabilities_without_widening_access(scratch) -> None:
    scratch.migrate("tasks", "0004_history_function_grants")
    scratch.migrate("accounts", "0005_audit_subject_by_id")
    with scratch.connect() as pg, pg.cursor() as cursor:
        admin = _insert_user(cursor, "boss@example.com", "admin", is_staff=True)
        lead = _insert_user(cursor, "lead@example.com", "staff")
        guest = _insert_user(cursor, "guest@example.com", "staff")
        flagged = _insert_user(cursor, "flagged@example.com", "traveller", is_staff=True)
        _insert_user(cursor, "trav@example.com", "traveller")
        cursor.execute(
            "INSERT INTO accounts_team (name, slug, description, created_at) VALUES ('Ops', 'ops', '', now()) "
            "RETURNING id"
        )
        team = cursor.fetchone()[0]
        cursor.execute(
            "INSERT INTO accounts_membership (team_id, user_id, role, joined_at) VALUES (%s, %s, 'admin', now()), "
            "(%s, %s, 'guest', now())",
            [team, lead, team, guest],
        )
    said = scratch.migrate("accounts", "0006_capabilities")
    with scratch.connect() as pg, pg.cursor() as cursor:
        cursor.execute("SET rls.role = 'system'")  # the owner is under FORCE RLS too
        cursor.execute("SELECT user_id, capability FROM accounts_capability_grant ORDER BY user_id, capability")
        grants = cursor.fetchall()
        cursor.execute("SELECT user_id, role FROM accounts_membership ORDER BY user_id")
        memberships = cursor.fetchall()
        cursor.execute("SELECT column_name FROM information_schema.columns WHERE table_name = 'accounts_user'")
        columns = {row[0] for row in cursor.fetchall()}
    # The admin keeps admin; the team admin keeps team creation; nobody gains anything.
    assert grants == [(admin, "site_admin"), (lead, "team_creator")]
    assert memberships == [(lead, "admin"), (guest, "guest")]
    assert not {"role", "is_staff", "is_superuser"} & columns
    assert "guest@example.com: staff -> team memberships kept; booking desk, catalogue editor" in said
    assert "flagged@example.com: Django admin flags without the admin role dropped" in said
    assert "1 site admin(s) kept; 2 staff account(s) narrowed (1 keep team creation); 1 admin flag(s) dropped." in said
    assert "trav@example.com" not in said
    assert flagged not in {user for user, _ in grants}
