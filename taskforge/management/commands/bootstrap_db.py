"""Create the database, its roles and extensions. Idempotent; run as a PostgreSQL superuser."""

from __future__ import annotations

from typing import Any

import psycopg
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from psycopg import sql

from taskforge import pgconn


def _connect(config: dict[str, Any], dbname: str | None = None) -> psycopg.Connection:
    return psycopg.connect(
        **pgconn.connect_kwargs(config),
        dbname=dbname or config["NAME"],
        autocommit=True,
        connect_timeout=5,
    )


def _ensure_role(cur: psycopg.Cursor, name: str, password: str | None, attributes: str) -> None:
    cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [name])
    verb = "ALTER" if cur.fetchone() else "CREATE"
    statement = sql.SQL(f"{verb} ROLE {{}} WITH LOGIN {attributes}").format(sql.Identifier(name))
    cur.execute(statement)
    if password:
        cur.execute(sql.SQL("ALTER ROLE {} WITH PASSWORD {}").format(sql.Identifier(name), sql.Literal(password)))


class Command(BaseCommand):
    help = "Create the database, the owner/app/backup roles and the extensions (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        superuser = settings.DATABASE_SUPERUSER
        owner = settings.DATABASE_OWNER
        backup = settings.DATABASE_BACKUP
        app_user = settings.DB_APP_ROLE
        app_password = settings.DATABASES["default"].get("PASSWORD") if settings.DJANGO_DB_ROLE == "app" else None
        dbname = owner["NAME"]
        try:
            conn = _connect(superuser)
        except psycopg.Error as exc:
            raise CommandError(f"cannot connect as the PostgreSQL superuser (DATABASE_SUPERUSER_URL): {exc}") from exc
        with conn, conn.cursor() as cur:
            _ensure_role(cur, owner["USER"], owner.get("PASSWORD"), "NOSUPERUSER CREATEDB NOCREATEROLE NOBYPASSRLS")
            _ensure_role(cur, app_user, app_password, "NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS")
            _ensure_role(cur, backup["USER"], backup.get("PASSWORD"), "NOSUPERUSER NOCREATEDB NOCREATEROLE BYPASSRLS")
            # The backup role reads only.
            cur.execute(
                sql.SQL("ALTER ROLE {} SET default_transaction_read_only = on").format(sql.Identifier(backup["USER"]))
            )
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [dbname])
            if not cur.fetchone():
                cur.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(dbname), sql.Identifier(owner["USER"]))
                )
                self.stdout.write(f"created database {dbname}")
            else:
                cur.execute(
                    sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
                        sql.Identifier(dbname), sql.Identifier(owner["USER"])
                    )
                )
            # pg_trgm in template1 too, so test databases created by the owner have it.
            for target in (dbname, "template1"):
                with _connect(superuser, dbname=target) as tconn, tconn.cursor() as tcur:
                    tcur.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        with _connect(superuser, dbname=dbname) as dconn, dconn.cursor() as dcur:
            for role in (app_user, backup["USER"]):
                dcur.execute(
                    sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(dbname), sql.Identifier(role))
                )
                dcur.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(sql.Identifier(role)))
            dcur.execute(sql.SQL("REVOKE CREATE ON SCHEMA public FROM PUBLIC"))
            dcur.execute(sql.SQL("ALTER SCHEMA public OWNER TO {}").format(sql.Identifier(owner["USER"])))
        self.stdout.write(
            self.style.SUCCESS(
                f"database {dbname}: owner {owner['USER']}, app {app_user}, backup {backup['USER']} ready"
            )
        )
