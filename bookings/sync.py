"""Outbox appliers of the bookings app: trip documents (MongoDB) and the trip projection
(PostgreSQL), plus the trip reconciler used by `manage.py sync_reconcile`.

The payload of a "trip" event is the full trip document at that version (built by
bookings.payloads.trip_payload), so applying events twice, late or out of order is
safe: both the MongoDB upsert and the projection upsert only ever move forward in
version. The document upserts are the one place that writes TripContent without the
ORM: batched, version-guarded pymongo upserts on the backend's own collection
(sync.stores, keyed by `_id` = the trip code). Everything else here uses the ORM.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from typing import Any

from django.db import connection, transaction

from bookings.cache import catalogue_cache_bump
from bookings.content import markdown_to_text
from bookings.models import TRIP_VOCABULARY, Trip, TripContent, TripListing
from bookings.payloads import trip_content_state, trip_payload_from_state
from sync.handlers import outbox_batch_handler, outbox_handler
from sync.models import OutboxEvent
from sync.outbox import outbox_record
from sync.reconcile import Reconciler, outbox_reconciler
from sync.stores import mongo_upsert_versioned, mongo_upsert_versioned_many, projection_upsert_versioned_many
from taskforge.mongo import documents_collection

logger = logging.getLogger(__name__)

TRIP_AGGREGATE = "trip"


def _utc_midnight(iso_date: str) -> dt.datetime:
    day = dt.date.fromisoformat(iso_date)
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def _utc_datetime(iso: str | None) -> dt.datetime | None:
    if not iso:
        return None
    value = dt.datetime.fromisoformat(iso)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    # MongoDB keeps milliseconds; truncate so every engine stores the same value.
    return value.astimezone(dt.UTC).replace(microsecond=value.microsecond // 1000 * 1000)


def trip_document_fields(payload: dict[str, Any]) -> dict[str, Any]:
    """The MongoDB document (without _id/version) for an event payload."""
    return {
        "code": payload["code"],
        "name": payload["name"],
        "resort": payload["resort"],
        "length_days": int(payload["length_days"]),
        "start": _utc_midnight(payload["start"]),
        "price_minor": int(payload["price_minor"]),
        "currency": payload["currency"],
        "price_range": payload["price_range"],
        "image": payload.get("image", ""),
        "thumbnail": payload.get("thumbnail", ""),
        "description_md": payload.get("description_md", ""),
        "keywords": list(payload.get("keywords", [])),
        # The payload is the whole document at its version, so the itinerary is set whole.
        "itinerary": [
            {"day": int(d.get("day", i + 1)), "title": str(d.get("title", "")), "details": str(d.get("details", ""))}
            for i, d in enumerate(payload.get("itinerary", []))
        ],
        "active": bool(payload["active"]),
        "seats": int(payload["seats"]),
        "created_at": _utc_datetime(payload.get("created_at")),
        "updated_at": _utc_datetime(payload.get("updated_at")),
    }


def listing_fields(payload: dict[str, Any]) -> dict[str, Any]:
    """The search projection row (without key/version) for an event payload."""
    return {
        "name": payload["name"],
        "resort": payload["resort"],
        "keywords": " ".join(payload.get("keywords", [])),
        "description": markdown_to_text(payload.get("description_md", "")),
        "price_minor": int(payload["price_minor"]),
        "currency": payload["currency"],
        "price_range": payload["price_range"],
        "start": dt.date.fromisoformat(payload["start"]),
        "length_days": int(payload["length_days"]),
        "active": bool(payload["active"]),
        "thumbnail": payload.get("thumbnail", ""),
    }


def _listing_upsert(events: Iterable[OutboxEvent]) -> int:
    rows = [(e.payload["code"], e.version, listing_fields(e.payload)) for e in events]
    with transaction.atomic():
        written = projection_upsert_versioned_many(TripListing, rows)
        if written:
            with connection.cursor() as cursor:
                # The words of names, resorts and keywords, for the typo correction of searches.
                for _code, _version, fields in rows:
                    TRIP_VOCABULARY.add(cursor, f"{fields['name']} {fields['resort']} {fields['keywords']}")
    if written:
        catalogue_cache_bump()
    return written


@outbox_handler(TRIP_AGGREGATE)
def trip_apply(event: OutboxEvent) -> None:
    """Apply a trip event: projection first (PostgreSQL, always reachable), then the document.

    If MongoDB is down the projection is already current (search keeps working) and the
    store error leaves the event pending, so the relay writes the document later; the
    projection write is then a no-op because its version is already there.
    """
    _listing_upsert([event])
    code = event.payload["code"]
    mongo_upsert_versioned(documents_collection(TripContent), code, event.version, trip_document_fields(event.payload))


@outbox_batch_handler(TRIP_AGGREGATE)
def trip_apply_many(events: list[OutboxEvent]) -> None:
    """`trip_apply` for a batch (a catch-up): one projection statement, one bulk write of documents."""
    _listing_upsert(events)
    items = [(e.payload["code"], e.version, trip_document_fields(e.payload)) for e in events]
    mongo_upsert_versioned_many(documents_collection(TripContent), items)


# --- drift detection and repair -----------------------------------------------------------


def _best_known_state(code: str, version: int) -> dict[str, Any] | None:
    """The newest full document we still have for a trip: its outbox payload at `version`,
    else the MongoDB document, else the newest older payload. None when all are gone."""
    event = (
        OutboxEvent.objects.filter(aggregate_type=TRIP_AGGREGATE, aggregate_id=code, version__lte=version)
        .order_by("-version", "-id")
        .first()
    )
    if event is not None and event.version == version:
        return dict(event.payload)
    doc = TripContent.objects.for_code(code)
    if doc is not None and (event is None or doc.version >= event.version):
        return trip_content_state(doc)
    return dict(event.payload) if event is not None else None


@outbox_reconciler(TRIP_AGGREGATE)
class TripReconciler(Reconciler):
    """Trip rows (code, version) against the trip documents and the projection rows.

    Re-emitting writes a new event at the trip's current version whose payload takes the
    booking facts from the Trip row and the content from the best copy still available
    (the outbox payload of that version, else the document); a trip with neither is
    reported in `errors` and left alone.
    """

    document_collection = TripContent._meta.db_table  # read and repaired through the ORM below
    projection_model = TripListing
    projection_deleted_field = None

    def documents(self, ids: list[str] | None = None) -> Iterable[tuple[str, int, bool]]:
        docs = TripContent.objects.all() if ids is None else TripContent.objects.filter(code__in=ids)
        for code, version in docs.values_list("code", "version").iterator(chunk_size=2000):
            yield code, int(version), False  # trips are never deleted, only taken off sale

    def document_delete(self, ids: list[str]) -> int:
        deleted, _ = TripContent.objects.filter(code__in=ids).delete()
        return deleted

    def source(self, ids: list[str] | None = None) -> Iterable[tuple[str, int]]:
        rows = Trip.objects.all() if ids is None else Trip.objects.filter(code__in=ids)
        for code, version in rows.values_list("code", "version").iterator(chunk_size=2000):
            yield code, int(version)

    def reemit(self, ids: list[str]) -> int:
        count = 0
        for trip in Trip.objects.filter(code__in=ids):
            state = _best_known_state(trip.code, trip.version)
            if state is None:
                logger.error("trip %s: no document and no outbox payload left; cannot re-emit", trip.code)
                continue
            with transaction.atomic():
                outbox_record(
                    aggregate_type=TRIP_AGGREGATE,
                    aggregate_id=trip.code,
                    version=trip.version,
                    event_type="trip.reemitted",
                    payload=trip_payload_from_state(trip, state),
                    fast_path=False,
                )
            count += 1
        return count
