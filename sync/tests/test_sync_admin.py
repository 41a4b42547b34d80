"""The outbox in the Django admin: admins browse events and retry dead letters; others can't."""

from __future__ import annotations

from django.db import transaction
from django.test import Client

from sync.models import OutboxEvent, OutboxStatus
from sync.outbox import outbox_record

URL = "/admin/sync/outboxevent/"


def _dead_letter() -> OutboxEvent:
    with transaction.atomic():
        event = outbox_record(
            aggregate_type="probe", aggregate_id="77", version=1, event_type="probe.upserted",
            payload={"name": "x"}, fast_path=False,
        )  # fmt: skip
    OutboxEvent.objects.filter(id=event.id).update(
        status=OutboxStatus.DEAD, attempts=8, last_error="RuntimeError: boom"
    )
    return event


def test_admin_lists_dead_letters_and_retries_them(client: Client, make_user) -> None:
    event = _dead_letter()
    client.force_login(make_user("admin"))
    page = client.get(URL, {"status__exact": "dead"})
    assert page.status_code == 200
    assert b"RuntimeError: boom" in page.content and b"probe.upserted" in page.content
    done = client.post(URL, {"action": "retry_dead_letters", "_selected_action": [event.id]}, follow=True)
    assert b"1 dead letters moved back to pending." in done.content
    event.refresh_from_db()
    assert (event.status, event.attempts) == (OutboxStatus.PENDING, 0)
    assert client.get(f"{URL}add/").status_code == 403  # read-only


def test_non_admins_cannot_see_the_outbox(client: Client, make_user) -> None:
    event = _dead_letter()
    client.force_login(make_user("staff"))
    page = client.get(URL)
    assert page.status_code == 403  # signed in, not a site admin: refused, not sent round a loop
    client.post(URL, {"action": "retry_dead_letters", "_selected_action": [event.id]})
    event.refresh_from_db()
    assert event.status == OutboxStatus.DEAD
