"""Settings of the bench stack: the site's settings, plus one bench-only URL.

gunicorn, the Celery worker and the driver of `python -m bench.load` run with
DJANGO_SETTINGS_MODULE=bench.load.settings. Everything else (databases, Redis, the
document server, queue prefixes) comes from the environment the harness sets, exactly
as for the real site.
"""

from __future__ import annotations

from taskforge.settings import *  # noqa: F403

# The real URLs plus /bench/constant/ (the framework ceiling), without touching taskforge/urls.py.
ROOT_URLCONF = "bench.load.urls"

# `python -m bench.load --pool-check`: try the pool's check on checkout (a proposal measured
# by the PostgreSQL fault, not the deployed configuration). With a pool, Django passes
# ConnectionPool.check_connection to psycopg_pool when CONN_HEALTH_CHECKS is on, so a
# connection that died while idle in the pool is replaced before a request gets it.
if env_bool("BENCH_POOL_CHECK", False):  # noqa: F405
    for _alias in DATABASES.values():  # noqa: F405
        _alias["CONN_HEALTH_CHECKS"] = True
