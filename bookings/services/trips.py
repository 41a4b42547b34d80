"""Catalogue writes: create a trip, edit it, take it off sale or put it back.

The Trip row (booking facts) and an outbox event carrying the whole document commit
together; the relay applies the event to MongoDB and the search projection
(bookings/sync.py). Only catalogue editors may call these.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Capability
from audit.services import audit_content_record
from bookings.images import StoredImage, trip_image_delete
from bookings.models import TRIP_CODE_MESSAGE, TRIP_CODE_PATTERN, Currency, Departure, DepartureStatus, Trip
from bookings.payloads import TripContentInput, content_input_from_state, trip_payload
from bookings.services.common import capability_require, local_today
from bookings.services.waitlist import seats_freed_on_commit
from bookings.sync import TRIP_AGGREGATE
from sync.outbox import outbox_record
from taskforge.errors import Conflict, NotFound, ServiceError

MAX_PRICE_MINOR = 100_000_000  # 1,000,000.00 per person: anything above is a typo
MAX_SEATS = 10_000

TRIP_CODE_FIXED_MESSAGE = "The code of a trip cannot change; create a new trip for a new code."


def _emit(trip: Trip, payload: dict[str, Any], *, old: dict | None, event_type: str) -> None:
    # Content changes in MongoDB are audited in the transaction of their outbox event.
    operation = "INSERT" if old is None else "UPDATE"
    audit_content_record(table="trip_document", record_id=trip.code, operation=operation, old=old, new=payload)
    outbox_record(
        aggregate_type=TRIP_AGGREGATE,
        aggregate_id=trip.code,
        version=trip.version,
        event_type=event_type,
        payload=payload,
    )


def _validate_trip_facts(*, price_minor: int, currency: str, seats: int, length_days: int) -> None:
    if not 0 < price_minor <= MAX_PRICE_MINOR:
        raise ServiceError("Enter a price above zero and at most 1,000,000.", field="price")
    if currency not in Currency.values:
        raise ServiceError("Choose a supported currency.", field="currency")
    if not 0 < seats <= MAX_SEATS:
        raise ServiceError(f"Seats per departure must be between 1 and {MAX_SEATS}.", field="seats")
    if not 0 < length_days <= 365:
        raise ServiceError("The length must be between 1 and 365 days.", field="length_days")


def trip_create(
    *,
    actor: Any,
    code: str,
    content: TripContentInput,
    start: dt.date,
    length_days: int,
    price_minor: int,
    currency: str,
    seats: int,
    image: StoredImage,
) -> Trip:
    """Create a trip and its departure; the document and projection follow through the outbox."""
    capability_require(actor, Capability.CATALOGUE_EDITOR)
    if not re.match(TRIP_CODE_PATTERN, code or ""):
        raise ServiceError(TRIP_CODE_MESSAGE, field="code")
    if start <= local_today():
        raise ServiceError("The start date must be in the future.", field="start")
    _validate_trip_facts(price_minor=price_minor, currency=currency, seats=seats, length_days=length_days)
    try:
        with transaction.atomic():
            if Trip.objects.filter(code=code).exists():
                raise ServiceError(f"A trip with the code {code} already exists.", field="code")
            now = timezone.now()
            trip = Trip.objects.create(
                code=code,
                price_minor=price_minor,
                currency=currency,
                seats=seats,
                start=start,
                length_days=length_days,
                active=True,
                version=1,
                created_at=now,
                updated_at=now,
            )
            Departure.objects.create(trip=trip, date=start, capacity=seats, seats_taken=0)
            payload = trip_payload(trip, content, image.image, image.thumbnail)
            _emit(trip, payload, old=None, event_type="trip.created")
    except IntegrityError as exc:  # a concurrent create of the same code
        raise ServiceError(f"A trip with the code {code} already exists.", field="code") from exc
    return trip


def trip_update(
    *,
    actor: Any,
    trip_code: str,
    expected_version: int,
    current_state: dict[str, Any],
    content: TripContentInput,
    start: dt.date,
    length_days: int,
    price_minor: int,
    currency: str,
    seats: int,
    image: StoredImage | None,
    code: str | None = None,
) -> Trip:
    """Edit a trip. `current_state` is the document at `expected_version` (selectors.trip_state);
    a concurrent edit (version moved on) is refused rather than silently overwritten. The code
    never changes: `code`, when the form sent one, must be the trip's own."""
    capability_require(actor, Capability.CATALOGUE_EDITOR)
    if code and code != trip_code:
        raise ServiceError(TRIP_CODE_FIXED_MESSAGE, field="code")
    _validate_trip_facts(price_minor=price_minor, currency=currency, seats=seats, length_days=length_days)
    with transaction.atomic():
        trip = Trip.objects.select_for_update().filter(code=trip_code).first()
        if trip is None:
            raise NotFound("No such trip.")
        if trip.version != expected_version:
            raise Conflict("Someone else changed this trip meanwhile. Reload the page to see their changes.")
        # The departure on the trip's start date follows the trip's date and seats; the
        # trip's other departures are managed on their own (services/departures.py).
        departure = (
            Departure.objects.select_for_update(of=("self",))
            .filter(trip=trip, date=trip.start)
            .exclude(status=DepartureStatus.CANCELLED)
            .first()
        )
        taken = departure.seats_taken + departure.seats_held if departure else 0
        if start != trip.start:
            if taken:
                raise ServiceError(
                    f"{taken} seats are booked on this departure, so its date cannot move. "
                    "Cancel or move those bookings first.",
                    field="start",
                )
            if start <= local_today():
                raise ServiceError("The start date must be in the future.", field="start")
            if departure and Departure.objects.filter(trip=trip, date=start).exists():
                raise ServiceError("The trip already has a departure on that date.", field="start")
        if seats < taken:
            raise ServiceError(f"{taken} seats are already booked; seats cannot go below that.", field="seats")
        now = timezone.now()
        trip.start, trip.length_days, trip.price_minor = start, length_days, price_minor
        trip.currency, trip.seats = currency, seats
        trip.version += 1
        trip.updated_at = now
        trip.save()
        if departure is not None:
            more_room = seats > departure.capacity
            departure.date, departure.capacity = start, seats
            departure.save(update_fields=["date", "capacity"])
            if more_room:
                seats_freed_on_commit(departure.pk)
        new_image = image.image if image else current_state.get("image", "")
        new_thumb = image.thumbnail if image else current_state.get("thumbnail", "")
        payload = trip_payload(trip, content, new_image, new_thumb)
        _emit(trip, payload, old=current_state, event_type="trip.updated")
        if image and current_state.get("image"):
            old = StoredImage(current_state.get("image", ""), current_state.get("thumbnail", ""))
            transaction.on_commit(lambda: trip_image_delete(old))
    return trip


def trip_set_active(*, actor: Any, trip_code: str, active: bool, current_state: dict[str, Any]) -> Trip:
    """Deactivate (take off sale) or reactivate a trip. Existing bookings are kept."""
    capability_require(actor, Capability.CATALOGUE_EDITOR)
    with transaction.atomic():
        trip = Trip.objects.select_for_update().filter(code=trip_code).first()
        if trip is None:
            raise NotFound("No such trip.")
        if trip.active == active:
            return trip
        if current_state.get("version") not in (None, trip.version):
            raise Conflict("Someone else changed this trip meanwhile. Reload and try again.")
        trip.active = active
        trip.version += 1
        trip.updated_at = timezone.now()
        trip.save(update_fields=["active", "version", "updated_at"])
        content = content_input_from_state(trip, current_state)
        payload = trip_payload(trip, content, current_state.get("image", ""), current_state.get("thumbnail", ""))
        _emit(trip, payload, old=current_state, event_type="trip.activated" if active else "trip.deactivated")
    return trip


def trip_content_edit(
    *, actor: Any, trip_code: str, expected_version: int, current_state: dict[str, Any], content: TripContentInput
) -> Trip:
    """Change only the content of a trip (name, resort, description, keywords, itinerary),
    e.g. from the admin: the Trip row's facts and the images stay as they are.

    Like every trip change it is a new version of the Trip row plus an outbox event with
    the whole document (audited in the same transaction), so the document, the search
    projection and the reconciler never disagree. `current_state` is the document at
    `expected_version`; a concurrent change (version moved on) is refused.
    """
    capability_require(actor, Capability.CATALOGUE_EDITOR)
    if not content.name.strip():
        raise ServiceError("Enter a name.", field="name")
    if not content.resort.strip():
        raise ServiceError("Enter a resort.", field="resort")
    with transaction.atomic():
        trip = Trip.objects.select_for_update().filter(code=trip_code).first()
        if trip is None:
            raise NotFound("No such trip.")
        if trip.version != expected_version or current_state.get("version") not in (None, trip.version):
            raise Conflict("Someone else changed this trip meanwhile. Reload the page to see their changes.")
        trip.version += 1
        trip.updated_at = timezone.now()
        trip.save(update_fields=["version", "updated_at"])
        payload = trip_payload(trip, content, current_state.get("image", ""), current_state.get("thumbnail", ""))
        _emit(trip, payload, old=current_state, event_type="trip.updated")
    return trip
