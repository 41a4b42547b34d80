"""The JSON shape of a trip document: the payload of a trip outbox event (the full document
at one version), and a stored TripContent read back in that shape.

Services build payloads with `trip_payload` when a trip changes; the reconciler rebuilds
one with `trip_payload_from_state` when it re-emits a drifted trip; bookings/sync.py turns
a payload into the stored document (`trip_document_fields`). Pages and the edit form read
the stored document as `trip_content_state(...)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bookings.models import Trip, TripContent
from bookings.policy import price_range_for


@dataclass(frozen=True)
class TripContentInput:
    """The content part of a trip (source of truth in MongoDB), as entered on the staff
    form or the admin: what a service writes into the next version's payload."""

    name: str
    resort: str
    description_md: str
    keywords: list[str]
    itinerary: list[dict[str, Any]]


def trip_payload(trip: Trip, content: TripContentInput, image: str, thumbnail: str) -> dict[str, Any]:
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


def content_input_from_state(trip: Trip, state: dict[str, Any]) -> TripContentInput:
    """The content part of a document or payload, to carry it into a new version."""
    return TripContentInput(
        name=state.get("name") or trip.code,
        resort=state.get("resort", ""),
        description_md=state.get("description_md", ""),
        keywords=list(state.get("keywords", [])),
        itinerary=list(state.get("itinerary", [])),
    )


def trip_payload_from_state(trip: Trip, state: dict[str, Any]) -> dict[str, Any]:
    """A payload at trip.version: booking facts from the Trip row, content from `state`
    (a document or an older payload). Used to re-emit a trip whose document drifted."""
    content = content_input_from_state(trip, state)
    return trip_payload(trip, content, state.get("image", ""), state.get("thumbnail", ""))


def trip_content_state(doc: TripContent) -> dict[str, Any]:
    """A stored trip document in the JSON shape of an outbox payload, plus its version."""
    return {
        "code": doc.code,
        "name": doc.name,
        "resort": doc.resort,
        "length_days": doc.length_days,
        "start": doc.start.isoformat(),
        "price_minor": doc.price_minor,
        "currency": doc.currency,
        "price_range": doc.price_range,
        "image": doc.image,
        "thumbnail": doc.thumbnail,
        "description_md": doc.description_md,
        "keywords": list(doc.keywords),
        "itinerary": [{"day": d.day, "title": d.title, "details": d.details} for d in doc.itinerary],
        "active": doc.active,
        "seats": doc.seats,
        "created_at": doc.created_at.isoformat() if doc.created_at else None,
        "updated_at": doc.updated_at.isoformat() if doc.updated_at else None,
        "version": doc.version,
    }
