"""A booking's way through: the price of a prospective booking, booking seats, and the booking
desk's confirmation (the traveller is emailed after commit).

Seats are counted on the departure row, locked FOR UPDATE, never by counting bookings:
RLS hides other travellers' bookings from the connection.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Capability
from bookings.jobs import booking_confirmed
from bookings.models import Booking, BookingStatus, Departure, DepartureStatus, Trip
from bookings.policy import booking_total, money
from bookings.services.common import (
    booking_event_data,
    booking_for_update,
    capability_require,
    local_today,
    travellers_check,
)
from sync.events import business_event_record
from taskforge.errors import Conflict, NotFound, ServiceError
from taskforge.tasks_util import enqueue_on_commit


@dataclass(frozen=True)
class Quote:
    """The price of a prospective booking, computed on the server."""

    unit_price_minor: int
    travellers: int
    total_minor: int
    currency: str
    seats_left: int
    travel_date: dt.date | None = None  # the departure priced

    @property
    def total_display(self) -> str:
        return money(self.total_minor, self.currency)


def _bookable(trip_code: str, travel_date: dt.date | None, *, lock: bool = False) -> tuple[Trip, Departure]:
    """The trip and the departure a booking is for, or a refusal that says why: unknown trip,
    off sale, no such departure, departure closed, cancelled or already left. Without a
    date, the trip's first open departure still to come. With `lock`, the departure row is
    locked FOR UPDATE (the booking counts seats under it)."""
    trip = Trip.objects.filter(code=trip_code).first()
    if trip is None:
        raise NotFound("There is no trip with this code.")
    if not trip.active:
        raise ServiceError("This trip is no longer on sale.", status=409)
    today = local_today()
    departures = Departure.objects.filter(trip=trip)
    if lock:
        departures = departures.select_for_update(of=("self",))
    if travel_date is None:
        departure = departures.filter(status=DepartureStatus.OPEN, date__gt=today).order_by("date").first()
        if departure is None:
            raise ServiceError("This trip has no departure open for booking.", field="travel_date")
        return trip, departure
    departure = departures.filter(date=travel_date).first()
    if departure is None:
        raise ServiceError("Choose one of the trip's departure dates.", field="travel_date")
    if departure.date <= today:
        raise ServiceError("This departure has already left; bookings are closed.", field="travel_date")
    if departure.status == DepartureStatus.CANCELLED:
        raise ServiceError("This departure is cancelled; choose another date.", field="travel_date")
    if departure.status != DepartureStatus.OPEN:
        raise ServiceError("This departure is closed for booking; choose another date.", field="travel_date")
    return trip, departure


def booking_quote(*, trip_code: str, travel_date: dt.date | None, travellers: Any) -> Quote:
    """Price and availability of a prospective booking (no locks; the booking re-checks).
    Without a date, the trip's next open departure."""
    count = travellers_check(travellers)
    trip, departure = _bookable(trip_code, travel_date)
    unit = departure.unit_price_minor(trip)
    return Quote(unit, count, booking_total(unit, count), trip.currency, departure.seats_left, departure.date)


def seats_refusal(departure: Departure, count: int) -> Conflict | None:
    """The refusal when `count` seats do not fit on the departure (checked under its lock)."""
    if departure.seats_left >= count:
        return None
    left = departure.seats_left
    return Conflict(
        "This departure is sold out."
        if left == 0
        else f"Only {left} seat{'s' if left != 1 else ''} left on this departure.",
        field="travellers",
    )


def booking_create(
    *,
    actor: Any,
    trip_code: str,
    travel_date: dt.date,
    travellers: Any,
    idempotency_key: uuid.UUID,
    expected_total_minor: int | None,
) -> tuple[Booking, bool]:
    """Book seats on the trip's departure of `travel_date` for the actor. Returns (booking,
    created); a repeated idempotency key returns the first booking (created=False) instead
    of booking twice.

    The departure row is locked FOR UPDATE before seats are counted, so concurrent
    bookings of the same departure run one after the other and cannot oversell it.
    Seats are counted on that row, not by counting bookings, because RLS hides other
    travellers' bookings from this connection.
    """
    if actor is None or not getattr(actor, "is_authenticated", False):
        raise NotFound("Sign in to book.")
    count = travellers_check(travellers)
    try:
        with transaction.atomic():
            locked = (
                Departure.objects.select_for_update(of=("self",)).filter(trip__code=trip_code, date=travel_date).first()
            )
            if locked is not None:
                # Under the lock: a duplicate submit that won the race has committed by now.
                existing = Booking.objects.filter(user=actor, idempotency_key=idempotency_key).first()
                if existing is not None:
                    return existing, False
            # Fresh facts under the departure lock; says why when it cannot be booked.
            trip, departure = _bookable(trip_code, travel_date, lock=True)
            unit = departure.unit_price_minor(trip)
            total = booking_total(unit, count)
            if expected_total_minor is None:
                raise ServiceError("Review the price before confirming.", field="expected_total")
            if expected_total_minor != total:
                raise ServiceError(
                    f"The total sent with the form does not match the price ({money(total, trip.currency)} for "
                    f"{count} traveller{'s' if count != 1 else ''}). Nothing was booked; please review and confirm "
                    "again.",
                    field="expected_total",
                )
            refusal = seats_refusal(departure, count)
            if refusal is not None:
                raise refusal
            booking = booking_insert(
                actor=actor, trip=trip, departure=departure, travellers=count, unit_price_minor=unit,
                idempotency_key=idempotency_key,
            )  # fmt: skip
    except IntegrityError:
        # The same key committed by a concurrent request for another departure.
        existing = Booking.objects.filter(user=actor, idempotency_key=idempotency_key).first()
        if existing is None:
            raise
        return existing, False
    return booking, True


def booking_insert(
    *, actor: Any, trip: Trip, departure: Departure, travellers: int, unit_price_minor: int, idempotency_key: uuid.UUID
) -> Booking:
    """The booking row and its seats, for a departure locked by the caller (who checked the room)."""
    now = timezone.now()
    booking = Booking.objects.create(
        user=actor,
        trip=trip,
        departure=departure,
        booking_date=now,
        travel_date=departure.date,
        travellers=travellers,
        unit_price_minor=unit_price_minor,
        total_minor=booking_total(unit_price_minor, travellers),
        currency=trip.currency,
        status=BookingStatus.PENDING,
        idempotency_key=idempotency_key,
        created_at=now,
        updated_at=now,
    )
    departure.seats_taken += travellers
    departure.save(update_fields=["seats_taken"])
    business_event_record(event_type="booking.created", team_id=None, data=booking_event_data(booking))
    return booking


def booking_confirm(*, actor: Any, booking_id: int) -> Booking:
    """Staff confirm a pending booking; the traveller gets a confirmation email after commit."""
    capability_require(actor, Capability.BOOKING_DESK)
    with transaction.atomic():
        booking = booking_for_update(actor, booking_id)
        if booking.status != BookingStatus.PENDING:
            raise Conflict(f"Only pending bookings can be confirmed (this one is {booking.status}).")
        now = timezone.now()
        booking.status = BookingStatus.CONFIRMED
        booking.confirmed_at = now
        booking.updated_at = now
        booking.save(update_fields=["status", "confirmed_at", "updated_at"])
        business_event_record(event_type="booking.confirmed", team_id=None, data=booking_event_data(booking))
        enqueue_on_commit(booking_confirmed, booking.pk)
    return booking
