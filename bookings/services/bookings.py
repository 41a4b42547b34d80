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
from bookings.models import Booking, BookingStatus, Departure, Trip
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

    @property
    def total_display(self) -> str:
        return money(self.total_minor, self.currency)


def _bookable_trip(trip_code: str, travel_date: dt.date | None) -> Trip:
    trip = Trip.objects.filter(code=trip_code).first()
    if trip is None:
        raise NotFound("There is no trip with this code.")
    if not trip.active:
        raise ServiceError("This trip is no longer on sale.", status=409)
    if trip.start <= local_today():
        raise ServiceError("This departure has already left; bookings are closed.", field="travel_date")
    if travel_date is not None and travel_date != trip.start:
        raise ServiceError("Choose one of the trip's departure dates.", field="travel_date")
    return trip


def booking_quote(*, trip_code: str, travel_date: dt.date | None, travellers: Any) -> Quote:
    """Price and availability of a prospective booking (no locks; the booking re-checks)."""
    count = travellers_check(travellers)
    trip = _bookable_trip(trip_code, travel_date)
    departure = Departure.objects.filter(trip=trip, date=trip.start).first()
    seats_left = departure.seats_left if departure else 0
    return Quote(trip.price_minor, count, booking_total(trip.price_minor, count), trip.currency, seats_left)


def booking_create(
    *,
    actor: Any,
    trip_code: str,
    travel_date: dt.date,
    travellers: Any,
    idempotency_key: uuid.UUID,
    expected_total_minor: int | None,
) -> tuple[Booking, bool]:
    """Book seats for the actor. Returns (booking, created); a repeated idempotency key
    returns the first booking (created=False) instead of booking twice.

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
            departure = (
                Departure.objects.select_for_update(of=("self",)).filter(trip__code=trip_code, date=travel_date).first()
            )
            if departure is None:
                _bookable_trip(trip_code, travel_date)  # says why: unknown, off sale, departed, wrong date
                raise ServiceError("Choose one of the trip's departure dates.", field="travel_date")
            # Under the lock: a duplicate submit that won the race has committed by now.
            existing = Booking.objects.filter(user=actor, idempotency_key=idempotency_key).first()
            if existing is not None:
                return existing, False
            trip = _bookable_trip(trip_code, travel_date)  # fresh facts under the departure lock
            total = booking_total(trip.price_minor, count)
            if expected_total_minor is None:
                raise ServiceError("Review the price before confirming.", field="expected_total")
            if expected_total_minor != total:
                raise ServiceError(
                    f"The total sent with the form does not match the price ({money(total, trip.currency)} for "
                    f"{count} traveller{'s' if count != 1 else ''}). Nothing was booked; please review and confirm "
                    "again.",
                    field="expected_total",
                )
            if departure.seats_left < count:
                left = departure.seats_left
                raise Conflict(
                    "This departure is sold out."
                    if left == 0
                    else f"Only {left} seat{'s' if left != 1 else ''} left on this departure.",
                    field="travellers",
                )
            now = timezone.now()
            booking = Booking.objects.create(
                user=actor,
                trip=trip,
                booking_date=now,
                travel_date=travel_date,
                travellers=count,
                unit_price_minor=trip.price_minor,
                total_minor=total,
                currency=trip.currency,
                status=BookingStatus.PENDING,
                idempotency_key=idempotency_key,
                created_at=now,
                updated_at=now,
            )
            departure.seats_taken += count
            departure.save(update_fields=["seats_taken"])
            business_event_record(event_type="booking.created", team_id=None, data=booking_event_data(booking))
    except IntegrityError:
        # The same key committed by a concurrent request for another departure.
        existing = Booking.objects.filter(user=actor, idempotency_key=idempotency_key).first()
        if existing is None:
            raise
        return existing, False
    return booking, True


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
