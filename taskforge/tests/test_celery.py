"""A task run by a real worker through RabbitMQ, carrying the request's context."""

from __future__ import annotations

import pytest

from taskforge.dbcontext import DbContext, db_context
from taskforge.jobs import ping

pytestmark = pytest.mark.worker


def test_task_round_trip_through_a_real_worker(celery_worker_proc) -> None:  # noqa: ANN001
    with db_context(DbContext(user_id="42", role="staff", request_id="req-abcdef12")):
        result = ping.delay("hello")
    assert result.get(timeout=30) == {"echo": "hello", "request_id": "req-abcdef12", "user_id": "42"}


def test_task_without_context_runs_with_none(celery_worker_proc) -> None:  # noqa: ANN001
    assert ping.delay("x").get(timeout=30) == {"echo": "x", "request_id": "", "user_id": ""}
