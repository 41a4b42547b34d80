"""A task run by a real worker through RabbitMQ, carrying the request's context."""

from __future__ import annotations

import pytest

from sync.probe import ping_task as ping
from taskforge.dbcontext import DbContext, db_context

pytestmark = pytest.mark.worker


def test_task_round_trip_through_a_real_worker(celery_worker_proc) -> None:
    with db_context(DbContext(user_id="42", role="user", request_id="req-abcdef12")):
        result = ping.delay("hello")
    assert result.get(timeout=30) == {"echo": "hello", "request_id": "req-abcdef12", "user_id": "42"}


def test_task_without_context_runs_with_none(celery_worker_proc) -> None:
    assert ping.delay("x").get(timeout=30) == {"echo": "x", "request_id": "", "user_id": ""}


READ_BACK = {"sync.ping", "audit.rls_probe"}  # the only tasks whose results are read


def test_only_read_back_tasks_store_results() -> None:
    from taskforge.celery import app

    app.loader.import_default_modules()
    ours = {name: task for name, task in app.tasks.items() if not name.startswith("celery.")}
    assert READ_BACK <= set(ours)
    assert {name for name, task in ours.items() if not task.ignore_result} == READ_BACK


@pytest.mark.django_db
def test_sending_a_task_from_a_request_never_touches_the_result_backend(monkeypatch) -> None:
    """Redis (the result backend) down must not block a web request that queues a job:
    a send for a result subscribes to the backend, which retried for ~20 s while Redis
    was stopped (bench.load's Redis fault)."""
    from bookings.jobs import booking_cancelled
    from taskforge.celery import app

    subscribed: list[str] = []
    monkeypatch.setattr(app.backend, "on_task_call", lambda producer, task_id: subscribed.append(task_id))
    result = booking_cancelled.delay(0)  # a booking that does not exist: the job itself is a no-op
    assert result.id and subscribed == []
    ping.delay("x")
    assert len(subscribed) == 1  # a task that is read back still subscribes
