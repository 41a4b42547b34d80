"""Test-only URLconf: the whole site plus a probe view that reports the connection's context.

Used with `@pytest.mark.urls("audit.tests.leak_urls")` by test_context_leaks.py.
"""

from __future__ import annotations

from django.db import connection, transaction
from django.http import HttpRequest, JsonResponse
from django.urls import path

from taskforge.dbcontext import DbContext, context_set
from taskforge.urls import urlpatterns as site_urlpatterns

LEAKY = DbContext(
    user_id="666", role="system", ip="198.51.100.66", user_agent="leaky-view", request_id="leaky-view-ctx"
)

CONTEXT_SQL = (
    "SELECT current_setting('rls.user_id', true), current_setting('rls.role', true), "
    "current_setting('rls.ip', true), current_setting('rls.user_agent', true), "
    "current_setting('rls.request_id', true), pg_backend_pid()"
)


def probe(request: HttpRequest) -> JsonResponse:
    """Report the context; `?raise=atomic` fails inside a transaction, `?raise=leaky` after
    setting a context of its own (an admin!) and never resetting it — a buggy view."""
    with connection.cursor() as cursor:
        cursor.execute(CONTEXT_SQL)
        user_id, role, ip, agent, request_id, pid = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM audit_log")
        visible = cursor.fetchone()[0]
    mode = request.GET.get("raise")
    if mode == "atomic":
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM accounts_user")
            raise RuntimeError("failure in the middle of a transaction")
    if mode == "leaky":
        context_set(LEAKY)
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM audit_log")
        raise RuntimeError("failure after switching the context")
    return JsonResponse(
        {
            "ctx": [user_id or "", role or "", ip or "", agent or "", request_id or ""],
            "pid": pid,
            "audit_visible": visible,
        }
    )


urlpatterns = [path("_leak/probe/", probe, name="leak_probe"), *site_urlpatterns]
