"""A pooled connection whose backend died while idle is not lent to the next request."""

from __future__ import annotations

import psycopg
from django.conf import settings
from django.db import connection
from django.test import Client


def _terminate_pool_idle_backends() -> int:
    """Kill the backends of the connections idle in this process's pool (and only those)."""
    import time

    deadline = time.monotonic() + 5
    while not connection.pool._pool and time.monotonic() < deadline:
        time.sleep(0.05)  # the pool takes connections back in a background thread
    pids = [conn.info.backend_pid for conn in list(connection.pool._pool)]
    su = settings.DATABASE_SUPERUSER
    with psycopg.connect(
        host=su.get("HOST") or None,
        port=su.get("PORT") or None,
        user=su["USER"],
        dbname=connection.settings_dict["NAME"],
        autocommit=True,
    ) as pg:
        for pid in pids:
            pg.execute("SELECT pg_terminate_backend(%s)", [pid])
    return len(pids)


def test_request_after_idle_backends_were_killed_succeeds(committed_db) -> None:
    from accounts.models import User

    User.objects.count()  # open a pooled connection
    connection.close()  # back to the pool, idle
    assert _terminate_pool_idle_backends() >= 1
    response = Client().get("/readyz")
    assert response.json()["checks"]["postgresql"]["status"] == "ok", response.json()
    assert User.objects.count() == 0
