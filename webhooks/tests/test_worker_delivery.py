"""The whole path with real commits and a real Celery worker: a task is created, the commit's
fast path turns the outbox event into a delivery, the worker posts it to a real receiver,
which checks the signature."""

from __future__ import annotations

import time

import pytest

from taskforge.dbcontext import context_for_system, db_context
from taskforge.testing.personas import acting, people_create
from tasks import services as task_services
from webhooks.models import DeliveryStatus, WebhookDelivery
from webhooks.tests.conftest import make_endpoint

pytestmark = [pytest.mark.worker, pytest.mark.slow]


@pytest.fixture
def webhook_worker(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest):
    """A real worker that may post to the loopback receiver (it reads the setting at start-up)."""
    monkeypatch.setenv("WEBHOOK_ALLOW_PRIVATE_TARGETS", "true")
    monkeypatch.setenv("WEBHOOK_TIMEOUT_SECONDS", "3")
    return request.getfixturevalue("celery_worker_proc")


def test_a_committed_task_is_delivered_by_the_worker(webhook_worker, receiver, settings) -> None:
    settings.OUTBOX_FAST_PATH = "inline"
    people = people_create("worker")
    make_endpoint(people.team_admin, receiver.url, ["task.created"], team=people.x, receiver=receiver)
    with acting(people.team_member):
        task = task_services.task_create(actor=people.team_member, team_id=people.x.id, title="Via the worker")
    assert receiver.arrived.wait(30), "the worker posted nothing:\n" + webhook_worker.log.read_text()[-3000:]
    [got] = receiver.received
    assert got.signature_ok is True
    assert got.json["data"]["id"] == str(task.id)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with db_context(context_for_system("test")):
            delivery = WebhookDelivery.objects.get()
        if delivery.status == DeliveryStatus.SUCCEEDED:
            break
        time.sleep(0.1)
    assert (delivery.status, delivery.attempts, delivery.last_response_code) == ("succeeded", 1, 204)
    assert got.headers["X-TaskForge-Delivery"] == str(delivery.pk)
