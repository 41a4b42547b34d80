"""The business-event registry (sync/events.py): the catalogue is checked, subscribers are
called in the caller's transaction, and nothing happens without a subscriber."""

from __future__ import annotations

import pytest
from django.db import transaction

from sync import events

pytestmark = pytest.mark.django_db


@pytest.fixture
def recorded(monkeypatch):
    seen: list[events.BusinessEvent] = []
    monkeypatch.setattr(events, "_SUBSCRIBERS", [seen.append])
    return seen


def test_a_subscriber_gets_the_event_inside_the_transaction(recorded) -> None:
    with transaction.atomic():
        event = events.business_event_record(
            event_type="task.moved", team_id=7, data={"id": "t1", "due_at": None, "n": 1}
        )
        assert recorded == [event]
        assert transaction.get_connection().in_atomic_block
    assert event.scope == "team" and len(event.id) == 32
    payload = event.as_payload()
    assert payload["type"] == "task.moved" and payload["team_id"] == 7 and payload["created_at"].endswith("Z")
    assert payload["data"] == {"id": "t1", "due_at": None, "n": 1}


def test_the_catalogue_and_the_scope_rule_are_enforced(recorded) -> None:
    with pytest.raises(ValueError, match="unknown business event type"):
        events.business_event_record(event_type="task.exploded", team_id=1, data={})
    with pytest.raises(ValueError, match="need team_id"):
        events.business_event_record(event_type="task.created", team_id=None, data={})
    with pytest.raises(ValueError, match="take no team_id"):
        events.business_event_record(event_type="booking.created", team_id=3, data={})
    assert recorded == []


def test_without_subscribers_nothing_is_recorded(monkeypatch) -> None:
    monkeypatch.setattr(events, "_SUBSCRIBERS", [])
    assert events.business_event_record(event_type="booking.created", team_id=None, data={"id": 1}) is None


def test_subscribing_twice_registers_once(monkeypatch) -> None:
    monkeypatch.setattr(events, "_SUBSCRIBERS", [])

    def subscriber(event: events.BusinessEvent) -> None:
        pass

    events.business_event_subscribe(subscriber)
    events.business_event_subscribe(subscriber)
    assert events.business_event_subscribers() == [subscriber]
