"""Business events for the apps above the ones that cause them (the webhooks app).

A service that makes a change others may want to hear about (a task created, a booking
confirmed) calls `business_event_record(...)` inside its `transaction.atomic()`, next to its
audit and outbox writes. Each subscriber, registered by a higher app in its
`AppConfig.ready()`, is called at once, in that transaction, and records what it needs
there (webhooks records an outbox event, so the event commits or rolls back with the
change and the relay turns it into deliveries). Subscribers must not do I/O or raise for
anything but a bug: they run inside someone else's write.

This module knows the event catalogue and nothing about its subscribers, so tasks and
bookings never import the webhooks app. With no subscriber a call costs nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

logger = logging.getLogger(__name__)

# The catalogue: event type -> who may hear about it. "team": the task's team; "desk": the
# booking desk (booking events name no team).
EVENT_SCOPES: dict[str, str] = {
    "task.created": "team",
    "task.updated": "team",
    "task.moved": "team",
    "task.deleted": "team",
    "comment.created": "team",
    "booking.created": "desk",
    "booking.confirmed": "desk",
    "booking.cancelled": "desk",
}
EVENT_TYPES: tuple[str, ...] = tuple(EVENT_SCOPES)


@dataclass(frozen=True)
class BusinessEvent:
    """One change, as subscribers see it. `data` is plain JSON (RFC 3339 UTC timestamps)."""

    id: str
    type: str
    occurred_at: dt.datetime
    team_id: int | None
    data: dict[str, Any]

    @property
    def scope(self) -> str:
        return EVENT_SCOPES[self.type]

    def as_payload(self) -> dict[str, Any]:
        """The event as a JSON document: {id, type, created_at, team_id, data}."""
        return {
            "id": self.id,
            "type": self.type,
            "created_at": _json_safe({"t": self.occurred_at})["t"],
            "team_id": self.team_id,
            "data": self.data,
        }


Subscriber = Callable[[BusinessEvent], None]
_SUBSCRIBERS: list[Subscriber] = []


def business_event_subscribe(func: Subscriber) -> Subscriber:
    """Register a subscriber (once; registering the same function again changes nothing)."""
    if func not in _SUBSCRIBERS:
        _SUBSCRIBERS.append(func)
    return func


def business_event_subscribers() -> list[Subscriber]:
    return list(_SUBSCRIBERS)


def _json_safe(data: Mapping[str, Any]) -> dict[str, Any]:
    # Dates, datetimes (UTC with "Z"), UUIDs and decimals as text, the way Django writes them.
    return json.loads(json.dumps(dict(data), cls=DjangoJSONEncoder))


def business_event_record(*, event_type: str, team_id: int | None, data: Mapping[str, Any]) -> BusinessEvent | None:
    """Tell the subscribers about a change, inside the caller's transaction.

    `team_id` is the team whose work changed (task and comment events) and None for booking
    events. Returns the event, or None when nobody subscribes.
    """
    scope = EVENT_SCOPES.get(event_type)
    if scope is None:
        raise ValueError(f"unknown business event type {event_type!r}; the catalogue is sync.events.EVENT_TYPES")
    if (scope == "team") != (team_id is not None):
        raise ValueError(f"{event_type} events {'need' if scope == 'team' else 'take no'} team_id")
    if not _SUBSCRIBERS:
        return None
    if not transaction.get_connection().in_atomic_block:
        # Recorded outside the change's transaction, the event could outlive a rolled-back change.
        logger.error("business_event_record(%s) called outside transaction.atomic()", event_type)
    event = BusinessEvent(
        id=uuid.uuid4().hex,
        type=event_type,
        occurred_at=timezone.now().astimezone(dt.UTC),
        team_id=team_id,
        data=_json_safe(data),
    )
    for subscriber in _SUBSCRIBERS:
        subscriber(event)
    return event
