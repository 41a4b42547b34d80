"""MongoDB trip documents (catalogue content), via MongoEngine, and their JSON shape.

The document is written only by the outbox handler in bookings/sync.py (newest version
wins) from the payload of a trip event: the full document at that version, built here by
`trip_payload` (services, when a trip changes; the reconciler, when it re-emits one).
Pages read it with plain pymongo calls whose shapes are listed in
bookings/tests/test_conformance_bookings.py. `_id` is the trip code, which never changes.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from mongoengine import (
    BooleanField,
    DateTimeField,
    DictField,
    Document,
    IntField,
    ListField,
    StringField,
)

from bookings.models import Trip
from bookings.policy import price_range_for
from taskforge.mongo import CONTENT_ALIAS, mongo_db

logger = logging.getLogger(__name__)

TRIP_COLLECTION = "trips"


class TripDocument(Document):
    """Catalogue content of one trip, plus read-only copies of the Trip row's facts.

    Content (source of truth here): name, resort, description_md, keywords, image,
    thumbnail, itinerary, price_range. Copies from PostgreSQL (source of truth there):
    code, price_minor, currency, seats, start, length_days, active. `version` is the
    Trip row's version at which this document was written.
    """

    id = StringField(primary_key=True, max_length=20)
    code = StringField(required=True, max_length=20)
    name = StringField(required=True, max_length=200)
    resort = StringField(required=True, max_length=120)
    length_days = IntField(min_value=1)
    start = DateTimeField()
    price_minor = IntField(min_value=1)
    currency = StringField(max_length=3)
    price_range = StringField(choices=("budget", "mid-range", "luxury"))
    image = StringField(default="")
    thumbnail = StringField(default="")
    description_md = StringField(default="")
    keywords = ListField(StringField(max_length=40))
    itinerary = ListField(DictField())  # [{"day": 1, "title": "...", "details": "..."}]; $set whole, never $push
    active = BooleanField(default=True)
    seats = IntField(min_value=1)
    created_at = DateTimeField()
    updated_at = DateTimeField()
    version = IntField(min_value=1)

    meta = {
        "db_alias": CONTENT_ALIAS,
        "collection": TRIP_COLLECTION,
        "strict": False,
        "auto_create_index": False,  # created explicitly by trip_collection()
        "indexes": [
            {"fields": ["code"], "unique": True, "name": "code_unique"},
            {"fields": ["start"], "name": "start"},
            {"fields": ["active", "start"], "name": "active_start"},
        ],
    }


_indexes_ready = False


def trip_collection() -> Any:
    """The pymongo collection of trip documents; makes sure its indexes exist (once per process)."""
    global _indexes_ready
    collection = mongo_db()[TRIP_COLLECTION]
    if not _indexes_ready:
        TripDocument.ensure_indexes()
        _indexes_ready = True
    return collection


def _as_utc(value: Any) -> dt.datetime | None:
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, dt.datetime):
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def trip_doc_state(doc: dict[str, Any]) -> dict[str, Any]:
    """A stored trip document in the JSON shape of an outbox payload (plus its version).

    Normalises two nx-27017 divergences (bookings/tests/test_conformance_bookings.py): a
    boolean `$set` on an existing document comes back as 0/1, and a datetime `$set` on an
    existing document comes back as a naive "YYYY-MM-DD HH:MM:SS" string (UTC).
    """
    state = {key: value for key, value in doc.items() if key != "_id"}
    state["active"] = bool(state.get("active", True))
    for key in ("created_at", "updated_at"):
        when = _as_utc(state.get(key))
        state[key] = when.isoformat() if when else None
    start = _as_utc(state.get("start"))
    state["start"] = start.date().isoformat() if start else None
    return state


@dataclass(frozen=True)
class TripContent:
    """The MongoDB-side content of a trip, as entered on the staff form."""

    name: str
    resort: str
    description_md: str
    keywords: list[str]
    itinerary: list[dict[str, Any]]


def trip_payload(trip: Trip, content: TripContent, image: str, thumbnail: str) -> dict[str, Any]:
    """The full trip document at trip.version (JSON-serialisable): the outbox payload."""
    return {
        "code": trip.code,
        "name": content.name,
        "resort": content.resort,
        "length_days": trip.length_days,
        "start": trip.start.isoformat(),
        "price_minor": trip.price_minor,
        "currency": trip.currency,
        "price_range": price_range_for(trip.price_minor),
        "image": image,
        "thumbnail": thumbnail,
        "description_md": content.description_md,
        "keywords": list(content.keywords),
        "itinerary": list(content.itinerary),
        "active": trip.active,
        "seats": trip.seats,
        "created_at": trip.created_at.isoformat(),
        "updated_at": trip.updated_at.isoformat(),
    }


def trip_payload_from_state(trip: Trip, state: dict[str, Any]) -> dict[str, Any]:
    """A payload at trip.version: booking facts from the Trip row, content from `state`
    (a document or an older payload). Used to re-emit a trip whose document drifted."""
    content = TripContent(
        name=state.get("name") or trip.code,
        resort=state.get("resort", ""),
        description_md=state.get("description_md", ""),
        keywords=list(state.get("keywords", [])),
        itinerary=list(state.get("itinerary", [])),
    )
    return trip_payload(trip, content, state.get("image", ""), state.get("thumbnail", ""))
