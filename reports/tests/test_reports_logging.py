"""JSON logs carry the request id, in the web process and in the Celery task the request
queued (a real worker, through RabbitMQ): the "Refresh now" button queues the reports ETL."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
import time
import uuid

import pytest
from django.test import Client

from accounts.models import User
from reports.tests.testdata import owner_connect, star_drop
from taskforge.logging import JsonFormatter, RequestIdFilter
from taskforge.testing.plugin import ROOT


@pytest.fixture
def json_logs(monkeypatch: pytest.MonkeyPatch) -> None:
    """LOG_JSON=true for processes started after this (the worker)."""
    monkeypatch.setenv("LOG_JSON", "true")


def _json_records(text: str) -> list[dict]:
    records = []
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue  # celery's own banner and plain lines
        if isinstance(record, dict):
            records.append(record)
    return records


@pytest.mark.worker
def test_request_id_travels_from_the_request_into_the_task_log(json_logs, celery_worker_proc) -> None:
    star_drop()
    admin = User.objects.create_superuser(f"reports-log-{uuid.uuid4().hex[:6]}@example.com", None)
    client = Client()
    client.force_login(admin)
    request_id = f"req-{uuid.uuid4().hex[:16]}"

    # The web side: the view's own log line, formatted as JSON, carries the request id.
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter())
    views_logger = logging.getLogger("reports.views")
    views_logger.addHandler(handler)
    try:
        response = client.post("/reports/refresh/", {"next": "/system/"}, HTTP_X_REQUEST_ID=request_id)
    finally:
        views_logger.removeHandler(handler)
    assert response.status_code == 302 and response["Location"] == "/system/"
    assert response["X-Request-ID"] == request_id
    [web] = [r for r in _json_records(stream.getvalue()) if r["message"].startswith("reports refresh queued")]
    assert web["request_id"] == request_id and web["level"] == "INFO"

    # The worker side (LOG_JSON=true): the task's log line carries the same request id.
    deadline = time.monotonic() + 60
    done: list[dict] = []
    while time.monotonic() < deadline and not done:
        records = _json_records(celery_worker_proc.log.read_text(errors="replace"))
        done = [r for r in records if r.get("logger") == "reports.jobs"]
        time.sleep(0.3)
    assert done, celery_worker_proc.log.read_text(errors="replace")[-3000:]
    assert done[0]["request_id"] == request_id
    assert done[0]["message"].startswith("reports ETL loaded into default")
    assert set(done[0]) >= {"time", "level", "logger", "message", "request_id"}
    with owner_connect() as conn:
        assert conn.execute("SELECT status FROM star.etl_run").fetchall() == [("ok",)]
    star_drop()


def test_log_json_setting_selects_the_json_formatter_with_request_id() -> None:
    """A fresh process with LOG_JSON=true logs one JSON object per line, with the request id."""
    code = (
        "import django, logging; django.setup()\n"
        "from taskforge.requestctx import request_id_var\n"
        "request_id_var.set('req-json-check-1')\n"
        "logging.getLogger('taskforge.check').warning('hello %s', 'json')\n"
    )
    env = {"DJANGO_SETTINGS_MODULE": "taskforge.settings", "DJANGO_SETTINGS_PROFILE": "test", "LOG_JSON": "true"}
    import os

    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    [record] = [r for r in _json_records(result.stderr) if r.get("logger") == "taskforge.check"]
    assert record["message"] == "hello json" and record["request_id"] == "req-json-check-1"
    assert record["level"] == "WARNING"
