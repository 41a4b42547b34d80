"""Celery tasks and management commands without a context see no protected rows; with one, exactly theirs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from django.conf import settings

from accounts.models import Team
from audit.jobs import audit_seal, rls_probe
from audit.rlscheck import visible_counts
from audit.tests.helpers import database_name, owner_scalar
from taskforge.dbcontext import DbContext, db_context

ADMIN = DbContext(user_id="1", role="system", request_id="req-admin-ctx-1")


def _seed() -> None:
    with db_context(ADMIN):
        Team.objects.bulk_create([Team(name=f"c{i}", slug=f"ctx-{i}") for i in range(5)])


@pytest.mark.worker
def test_celery_tasks_see_protected_rows_only_with_a_context_and_seal_the_chain(celery_worker_proc) -> None:
    _seed()
    # Several tasks interleaved on a two-process worker: a context never carries over.
    results = []
    for i in range(6):
        if i % 2:
            with db_context(ADMIN):
                results.append(("admin", rls_probe.delay()))
        else:
            results.append(("none", rls_probe.delay()))
    for kind, result in results:
        seen = result.get(timeout=30)
        if kind == "none":
            assert seen["user_id"] == "" and seen["role"] == "" and seen["request_id"] == ""
            assert seen["visible"] and all(count == 0 for count in seen["visible"].values()), seen
        else:
            assert (seen["user_id"], seen["role"], seen["request_id"]) == ("1", "system", "req-admin-ctx-1")
            assert seen["visible"]["audit_log"] == 5
    # The same worker runs the beat job that seals the chain (no context needed: SECURITY DEFINER).
    audit_seal.delay()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and owner_scalar("SELECT count(*) FROM audit_log WHERE seal_seq IS NULL"):
        time.sleep(0.2)
    assert owner_scalar("SELECT count(*) FROM audit_log WHERE seal_seq IS NOT NULL") == 5
    assert owner_scalar("SELECT seal_seq FROM audit_chain_head") == 5


def test_management_commands_see_no_protected_rows(committed_db) -> None:
    _seed()
    # In-process, with no context (as call_command from code would run):
    assert visible_counts()["audit_log"] == 0
    # A real `manage.py` process: it runs as "operator", which no policy admits.
    db = settings.DATABASES["default"]
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{auth}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{database_name()}",
    }
    code = (
        "import json; from audit.rlscheck import visible_counts; from django.db import connection; "
        "c = connection.cursor(); c.execute(\"SELECT current_setting('rls.role', true), "
        "current_setting('rls.user_agent', true)\"); print(json.dumps([visible_counts(), c.fetchone()]))"
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    counts, (role, agent) = json.loads(result.stdout.strip().splitlines()[-1])
    assert counts["audit_log"] == 0 and all(v == 0 for v in counts.values()), counts
    assert role == "operator" and agent.startswith("manage.py shell (os user ")
