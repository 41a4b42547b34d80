"""From a change to a signed POST: recording in the change's transaction (outbox), fan-out to
the matching endpoints, signatures checked by a real receiver, retries with backoff, dead
letters, redelivery. The delivery function is called directly (the worker test is in
test_worker_delivery.py)."""

from __future__ import annotations

import datetime as dt
import json
import socket
import subprocess

import pytest
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from sync.models import OutboxEvent
from taskforge.dbcontext import context_for_system, db_context
from taskforge.errors import Conflict, NotFound
from taskforge.testing.personas import acting
from tasks import services as task_services
from tasks.services.comments import comment_create
from webhooks.models import DeliveryStatus, WebhookDelivery
from webhooks.services.deliveries import (
    deliveries_due,
    deliveries_fan_out,
    deliveries_purge,
    delivery_attempt,
    delivery_redeliver,
)
from webhooks.services.endpoints import endpoint_set_active
from webhooks.signing import signature_header, signature_verify
from webhooks.tests.conftest import fan_out, make_endpoint

pytestmark = pytest.mark.django_db

TEAM_EVENTS = ["task.created", "task.updated", "task.moved", "task.deleted", "comment.created"]


def _task(actor, team, title="Ship the release", **kw):
    with acting(actor):
        return task_services.task_create(actor=actor, team_id=team.id, title=title, **kw)


def _attempt(delivery) -> str:
    return delivery_attempt(str(delivery.pk))


def _reload(delivery) -> WebhookDelivery:
    with db_context(context_for_system("test")):
        return WebhookDelivery.objects.get(pk=delivery.pk)


def _make_due(delivery) -> None:
    with db_context(context_for_system("test")):
        WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())


def test_a_task_event_reaches_a_real_receiver_signed(people, receiver) -> None:
    endpoint, secret = make_endpoint(
        people.team_admin, receiver.url, ["task.created"], team=people.x, receiver=receiver
    )
    task = _task(people.team_member, people.x, title="Renew the certificate")
    [delivery] = fan_out()
    assert (delivery.endpoint_id, delivery.event_type, delivery.status) == (endpoint.pk, "task.created", "pending")

    assert _attempt(delivery) == "succeeded"

    [got] = receiver.received
    assert got.signature_ok is True  # the receiver checked X-TaskForge-Signature with the secret
    assert got.path == "/hooks"
    assert got.headers["X-TaskForge-Event"] == "task.created"
    assert got.headers["X-TaskForge-Delivery"] == str(delivery.pk)
    assert got.headers["Content-Type"] == "application/json"
    body = got.json
    assert body["type"] == "task.created" and body["id"] == delivery.event_id
    assert body["team_id"] == people.x.id and body["created_at"].endswith("Z")
    assert body["data"]["id"] == str(task.id) and body["data"]["title"] == "Renew the certificate"
    assert body["data"]["creator_id"] == people.team_member.pk
    # Another secret does not verify: the signature covers the secret, the timestamp and the body.
    assert not signature_verify("whsec_wrong", got.body, got.headers["X-TaskForge-Signature"])
    assert not signature_verify(secret, got.body + b" ", got.headers["X-TaskForge-Signature"])
    stored = _reload(delivery)
    assert stored.status == DeliveryStatus.SUCCEEDED and stored.attempts == 1
    assert stored.last_response_code == 204 and stored.duration_ms is not None and stored.delivered_at


def test_the_signature_verifies_with_the_readme_openssl_one_liner(receiver) -> None:
    body = json.dumps({"id": "e1", "type": "task.created"}).encode()
    header = signature_header("whsec_example", body, timestamp=1700000000)
    t, v1 = (part.split("=", 1)[1] for part in header.split(","))
    out = subprocess.run(
        ["openssl", "dgst", "-sha256", "-hmac", "whsec_example"],
        input=f"{t}.".encode() + body,
        capture_output=True,
        check=True,
    ).stdout.decode()
    assert out.strip().split()[-1] == v1
    assert signature_verify("whsec_example", body, header, now=1700000000 + 10)
    assert not signature_verify("whsec_example", body, header, now=1700000000 + 301)  # too old: a replay


def test_the_event_is_recorded_in_the_transaction_of_the_change(people, receiver) -> None:
    make_endpoint(people.team_admin, receiver.url, ["task.created"], team=people.x, receiver=receiver)
    with pytest.raises(RuntimeError), transaction.atomic():
        _task(people.team_member, people.x, title="Rolled back")
        assert OutboxEvent.objects.filter(aggregate_type="webhook", event_type="task.created").count() == 1
        raise RuntimeError("the change fails after the event was recorded")
    assert not OutboxEvent.objects.filter(aggregate_type="webhook").exists()
    assert fan_out() == []
    _task(people.team_member, people.x, title="Committed")
    event = OutboxEvent.objects.get(aggregate_type="webhook")
    assert event.payload["data"]["title"] == "Committed" and event.status == "pending"


def test_only_matching_active_endpoints_of_the_scope_get_the_event(people, receiver) -> None:
    wants_created, _ = make_endpoint(people.team_admin, receiver.url, ["task.created"], team=people.x)
    make_endpoint(people.team_admin, receiver.url, ["task.deleted"], team=people.x)  # another type
    make_endpoint(people.y_admin, receiver.url, ["task.created"], team=people.y)  # another team
    make_endpoint(people.booking_desk, receiver.url, ["booking.created"])  # the desk
    disabled, _ = make_endpoint(people.team_admin, receiver.url, ["task.created"], team=people.x)
    with acting(people.team_admin):
        endpoint_set_active(actor=people.team_admin, endpoint_id=disabled.pk, active=False)
    _task(people.team_member, people.x)
    assert [(d.endpoint_id, d.event_type) for d in fan_out()] == [(wants_created.pk, "task.created")]


def test_every_team_event_type_is_announced(people, receiver) -> None:
    make_endpoint(people.team_admin, receiver.url, TEAM_EVENTS, team=people.x)
    admin = people.team_admin
    task = _task(admin, people.x)
    with acting(admin):
        task = task_services.task_update(
            actor=admin, task_id=task.id, expected_version=task.version, title="Ship it", description="now",
            status=task.status, priority="high", assignee_id=None, due_at=None, tags="", custom_fields={},
        )  # fmt: skip
        task, _ = task_services.task_move(actor=admin, task_id=task.id, status="in_progress",
                                          expected_version=task.version)  # fmt: skip
        comment_create(actor=admin, task_id=task.id, body="On it")
        task_services.task_delete(actor=admin, task_id=task.id)
    deliveries = fan_out()
    by_type = {d.event_type: d.payload for d in deliveries}
    assert sorted(by_type) == sorted(TEAM_EVENTS)
    assert by_type["task.updated"]["data"]["priority"] == "high"
    assert by_type["task.moved"]["data"]["previous_status"] == "todo"
    assert by_type["task.moved"]["data"]["status"] == "in_progress"
    assert by_type["comment.created"]["data"]["body"] == "On it"
    assert by_type["comment.created"]["data"]["task_id"] == str(task.id)
    assert by_type["task.deleted"]["data"] == {
        "id": str(task.id), "team_id": people.x.id, "title": "Ship it", "deleted_by": admin.pk,
    }  # fmt: skip


def test_a_replayed_outbox_event_makes_no_second_delivery(people, receiver) -> None:
    make_endpoint(people.team_admin, receiver.url, ["task.created"], team=people.x)
    _task(people.team_member, people.x)
    payload = OutboxEvent.objects.get(aggregate_type="webhook").payload
    [first] = fan_out()
    with db_context(context_for_system("test")):
        assert deliveries_fan_out(payload) == [str(first.pk)]  # still waiting: queued again, not made again
        assert WebhookDelivery.objects.count() == 1


def test_a_failing_receiver_is_retried_with_backoff_then_dead_lettered(people, receiver, settings) -> None:
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    settings.WEBHOOK_BACKOFF_BASE_SECONDS = 60
    receiver.status = 500
    make_endpoint(people.team_admin, receiver.url, ["task.created"], team=people.x, receiver=receiver)
    _task(people.team_member, people.x)
    [delivery] = fan_out()

    before = timezone.now()
    assert _attempt(delivery) == "failed"
    first = _reload(delivery)
    assert (first.attempts, first.last_response_code, first.last_error) == (1, 500, "HTTP 500")
    assert before + dt.timedelta(seconds=47) < first.next_attempt_at < before + dt.timedelta(seconds=73)
    assert _attempt(delivery) == "skipped"  # not due yet: nothing is posted
    assert len(receiver.received) == 1
    assert str(delivery.pk) not in deliveries_due()

    _make_due(delivery)
    assert str(delivery.pk) in deliveries_due()
    before = timezone.now()
    assert _attempt(delivery) == "failed"
    second = _reload(delivery)
    assert second.attempts == 2
    assert before + dt.timedelta(seconds=95) < second.next_attempt_at < before + dt.timedelta(seconds=145)

    _make_due(delivery)
    assert _attempt(delivery) == "dead"
    dead = _reload(delivery)
    assert (dead.status, dead.attempts) == (DeliveryStatus.DEAD, 3)
    assert str(delivery.pk) not in deliveries_due()
    assert _attempt(delivery) == "skipped"
    assert len(receiver.received) == 3 and all(r.signature_ok for r in receiver.received)


def test_a_receiver_that_is_down_is_a_failed_attempt_with_the_error(people) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed once the block ends: nothing listens there
    make_endpoint(people.team_admin, f"http://127.0.0.1:{port}/", ["task.created"], team=people.x)
    _task(people.team_member, people.x)
    [delivery] = fan_out()
    assert _attempt(delivery) == "failed"
    stored = _reload(delivery)
    assert stored.last_response_code is None and "ConnectionRefused" in stored.last_error


def test_a_redirect_is_not_followed(people, receiver) -> None:
    receiver.status = 302
    make_endpoint(people.team_admin, receiver.url, ["task.created"], team=people.x)
    _task(people.team_member, people.x)
    [delivery] = fan_out()
    assert _attempt(delivery) == "failed"
    assert _reload(delivery).last_response_code == 302


def test_the_ssrf_guard_applies_at_delivery_time_too(people, receiver, settings) -> None:
    make_endpoint(people.team_admin, receiver.url, ["task.created"], team=people.x)
    _task(people.team_member, people.x)
    [delivery] = fan_out()
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False  # e.g. the name now resolves to a private address
    assert _attempt(delivery) == "failed"
    assert receiver.received == []
    assert "loopback" in _reload(delivery).last_error


def test_a_disabled_endpoint_is_sent_nothing(people, receiver) -> None:
    endpoint, _ = make_endpoint(people.team_admin, receiver.url, ["task.created"], team=people.x)
    _task(people.team_member, people.x)
    [delivery] = fan_out()
    with acting(people.team_admin):
        endpoint_set_active(actor=people.team_admin, endpoint_id=endpoint.pk, active=False)
    assert _attempt(delivery) == "dead"
    assert receiver.received == []
    assert _reload(delivery).last_error == "The endpoint is disabled."


def test_redeliver_sends_the_same_event_again_as_a_new_delivery(people, receiver) -> None:
    make_endpoint(people.team_admin, receiver.url, ["task.created"], team=people.x, receiver=receiver)
    _task(people.team_member, people.x)
    [delivery] = fan_out()
    assert _attempt(delivery) == "succeeded"
    with acting(people.team_admin):
        again = delivery_redeliver(actor=people.team_admin, delivery_id=str(delivery.pk))
    assert again.pk != delivery.pk and again.redelivery_of_id == delivery.pk
    assert delivery_attempt(str(again.pk)) == "succeeded"
    first, second = receiver.received
    assert first.body == second.body  # the same event, byte for byte
    assert first.headers["X-TaskForge-Delivery"] != second.headers["X-TaskForge-Delivery"]
    assert second.signature_ok


@pytest.mark.parametrize("actor", ["team_member", "team_guest", "booking_desk", "traveller"])
def test_only_who_manages_the_endpoint_may_redeliver(people, receiver, actor) -> None:
    make_endpoint(people.team_admin, receiver.url, ["task.created"], team=people.x)
    _task(people.team_member, people.x)
    [delivery] = fan_out()
    user = getattr(people, actor)
    with acting(user), pytest.raises(NotFound):
        delivery_redeliver(actor=user, delivery_id=str(delivery.pk))
    with acting(people.team_admin), pytest.raises(NotFound):
        delivery_redeliver(actor=people.team_admin, delivery_id="not-a-uuid")


def test_redelivering_to_a_disabled_endpoint_is_refused(people, receiver) -> None:
    endpoint, _ = make_endpoint(people.team_admin, receiver.url, ["task.created"], team=people.x)
    _task(people.team_member, people.x)
    [delivery] = fan_out()
    with acting(people.team_admin):
        endpoint_set_active(actor=people.team_admin, endpoint_id=endpoint.pk, active=False)
        with pytest.raises(Conflict):
            delivery_redeliver(actor=people.team_admin, delivery_id=str(delivery.pk))


def test_a_team_member_cannot_make_a_team_endpoint(people, receiver) -> None:
    with pytest.raises(PermissionDenied):
        make_endpoint(people.team_member, receiver.url, ["task.created"], team=people.x)
    with pytest.raises(NotFound):  # another team: it does not exist for them
        make_endpoint(people.team_admin, receiver.url, ["task.created"], team=people.y)
    with pytest.raises(NotFound):
        make_endpoint(people.team_admin, receiver.url, ["booking.created"])  # not on the desk


def test_old_finished_deliveries_are_purged_and_the_rest_kept(people, receiver, settings) -> None:
    settings.WEBHOOK_DELIVERY_RETENTION_DAYS = 30
    endpoint, _ = make_endpoint(people.team_admin, receiver.url, ["task.created"], team=people.x)
    old = timezone.now() - dt.timedelta(days=31)
    with db_context(context_for_system("test")):
        for status in ("succeeded", "dead", "failed", "pending"):
            WebhookDelivery.objects.create(
                endpoint=endpoint, event_id=f"e-{status}", event_type="task.created", payload={}, status=status
            )
        WebhookDelivery.objects.update(created_at=old)
        recent = WebhookDelivery.objects.create(
            endpoint=endpoint, event_id="e-recent", event_type="task.created", payload={}, status="succeeded"
        )
    assert deliveries_purge() == 2
    with db_context(context_for_system("test")):
        kept = set(WebhookDelivery.objects.values_list("event_id", flat=True))
    assert kept == {"e-failed", "e-pending", recent.event_id}  # still being retried, or recent
