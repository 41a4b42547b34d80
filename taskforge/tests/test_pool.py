"""A pooled connection whose backend died while idle is not lent to the next request."""

from __future__ import annotations

import psycopg
from django.conf import settings
from django.db import connection
from django.test import Client


def _terminate_idle_app_backends() -> int:
    su = settings.DATABASE_SUPERUSER
    with psycopg.connect(host=su.get("HOST") or None, port=su.get("PORT") or None, user=su["USER"],
                         dbname=connection.settings_dict["NAME"], autocommit=True) as pg:
        rows = pg.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE usename = %s AND datname = %s AND state = 'idle' AND pid <> pg_backend_pid()",
            [settings.DB_APP_ROLE, connection.settings_dict["NAME"]],
        ).fetchall()
    return len(rows)


def test_request_after_idle_backends_were_killed_succeeds(committed_db) -> None:  # noqa: ANN001
    from accounts.models import User

    User.objects.count()  # open a pooled connection
    connection.close()  # back to the pool, idle
    assert _terminate_idle_app_backends() >= 1
    response = Client().get("/readyz")
    assert response.json()["checks"]["postgresql"]["status"] == "ok"
    assert User.objects.count() == 0
