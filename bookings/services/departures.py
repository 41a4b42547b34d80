"""A trip's departures: catalogue editors add them and change their seats, price and status;
catalogue editors or the booking desk cancel one. A cancelled departure's travellers are
told (email + in-app, by a job after commit) and each chooses on their booking page: a
full refund, or a move to another open departure of the same trip with room.

Seat changes lock the departure rows (FOR UPDATE, in id order when two are involved, so
two moves in opposite directions cannot deadlock).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Capability
from accounts.permissions import capability_has
from bookings.cache import catalogue_cache_bump
from bookings.jobs import booking_cancelled, departure_cancelled_notify
from bookings.models import Booking, BookingStatus, Departure, DepartureStatus, Trip
from bookings.policy import CANCEL_REASON_MAX_LENGTH, CANCEL_REASON_REQUIRED, CANCEL_REASON_TOO_LONG
from bookings.services.bookings import seats_refusal
from bookings.services.cancellations import release_seats
from bookings.services.common import booking_for_update, capability_require, local_today
from bookings.services.trips import MAX_PRICE_MINOR, MAX_SEATS
from bookings.services.waitlist import seats_freed_on_commit
from taskforge.errors import Conflict, NotFound, ServiceError
from taskforge.tasks_util import enqueue_on_commit

# Statuses an editor sets directly; cancelling is its own action (it tells the travellers).
EDITABLE_STATUSES = (DepartureStatus.OPEN, DepartureStatus.CLOSED)


def _check_seats(seats: Any) -> int:
    if isinstance(seats, bool) or not isinstance(seats, int) or not 0 < seats <= MAX_SEATS:
        raise ServiceError(f"Seats must be between 1 and {MAX_SEATS}.", field="seats")
    return seats


def _check_price(price_minor: Any) -> int | None:
    if price_minor is None:
        return None
    if isinstance(price_minor, bool) or not isinstance(price_minor, int) or not 0 < price_minor <= MAX_PRICE_MINOR:
        raise ServiceError("Enter a price above zero and at most 1,000,000, or leave it empty.", field="price")
    return price_minor


def _departure_for_update(departure_id: int) -> Departure:
    departure = Departure.objects.select_for_update(of=("self",)).select_related("trip").filter(pk=departure_id).first()
    if departure is None:
        raise NotFound("No such departure.")
    return departure


def departure_add(
    *, actor: Any, trip_code: str, date: dt.date, seats: Any, price_minor: Any = None, status: str = "open"
) -> Departure:
    """Add a departure to a trip (catalogue editors)."""
    capability_require(actor, Capability.CATALOGUE_EDITOR)
    seats = _check_seats(seats)
    price_minor = _check_price(price_minor)
    if status not in EDITABLE_STATUSES:
        raise ServiceError("A new departure is open or closed.", field="status")
    if date <= local_today():
        raise ServiceError("The departure date must be in the future.", field="date")
    try:
        with transaction.atomic():
            trip = Trip.objects.select_for_update().filter(code=trip_code).first()
            if trip is None:
                raise NotFound("No such trip.")
            if Departure.objects.filter(trip=trip, date=date).exists():
                raise ServiceError("The trip already has a departure on that date.", field="date")
            departure = Departure.objects.create(
                trip=trip, date=date, capacity=seats, seats_taken=0, price_minor=price_minor, status=status
            )
            transaction.on_commit(catalogue_cache_bump)
    except IntegrityError as exc:  # a concurrent add of the same date
        raise ServiceError("The trip already has a departure on that date.", field="date") from exc
    return departure


def departure_update(*, actor: Any, departure_id: int, seats: Any, price_minor: Any, status: str) -> Departure:
    """Change a departure's seats, price override and status (open/closed). Seats never go
    below the seats booked; more seats (or reopening) pass freed seats to the waiting list."""
    capability_require(actor, Capability.CATALOGUE_EDITOR)
    seats = _check_seats(seats)
    price_minor = _check_price(price_minor)
    if status not in EDITABLE_STATUSES:
        raise ServiceError("Choose open or closed (cancel a departure with its own button).", field="status")
    with transaction.atomic():
        departure = _departure_for_update(departure_id)
        if departure.is_cancelled:
            raise Conflict("This departure is cancelled; it can no longer change.")
        if seats < departure.seats_taken + departure.seats_held:
            raise ServiceError(
                f"{departure.seats_taken} seats are booked and {departure.seats_held} held for waiting-list "
                "offers; seats cannot go below that."
                if departure.seats_held
                else f"{departure.seats_taken} seats are already booked; seats cannot go below that.",
                field="seats",
            )
        more_room = seats > departure.capacity or (status == DepartureStatus.OPEN and not departure.is_open)
        departure.capacity, departure.price_minor, departure.status = seats, price_minor, status
        departure.save(update_fields=["capacity", "price_minor", "status"])
        transaction.on_commit(catalogue_cache_bump)
        if more_room:
            seats_freed_on_commit(departure.pk)
    return departure


def departure_cancel(*, actor: Any, departure_id: int, reason: str) -> Departure:
    """Cancel a departure (catalogue editors or the booking desk, with a reason). Its
    bookings stay as they are until each traveller chooses a refund or a move; they are
    told by email and in the app (a job, after commit)."""
    if not (capability_has(actor, Capability.CATALOGUE_EDITOR) or capability_has(actor, Capability.BOOKING_DESK)):
        raise NotFound("Not found.")
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError(CANCEL_REASON_REQUIRED, field="reason")
    if len(reason) > CANCEL_REASON_MAX_LENGTH:
        raise ServiceError(CANCEL_REASON_TOO_LONG, field="reason")
    with transaction.atomic():
        departure = _departure_for_update(departure_id)
        if departure.is_cancelled:
            raise Conflict("This departure is already cancelled.")
        if departure.date <= local_today():
            raise ServiceError("This departure has already left; it cannot be cancelled.")
        departure.status = DepartureStatus.CANCELLED
        departure.cancel_reason = reason
        departure.cancelled_at = timezone.now()
        departure.save(update_fields=["status", "cancel_reason", "cancelled_at"])
        transaction.on_commit(catalogue_cache_bump)
        enqueue_on_commit(departure_cancelled_notify, departure.pk)
    return departure


def _cancelled_departure_booking(actor: Any, booking_id: int) -> Booking:
    booking = booking_for_update(actor, booking_id)
    if booking.status == BookingStatus.CANCELLED:
        raise Conflict("This booking is already cancelled.")
    if not Departure.objects.filter(pk=booking.departure_id, status=DepartureStatus.CANCELLED).exists():
        raise Conflict("This booking's departure is not cancelled; nothing to choose.")
    return booking


def booking_departure_refund(*, actor: Any, booking_id: int) -> Booking:
    """The traveller of a cancelled departure takes the full refund: the booking is
    cancelled and everything paid comes back (the removed travellers' charges too)."""
    with transaction.atomic():
        booking = _cancelled_departure_booking(actor, booking_id)
        release_seats(booking, booking.travellers)
        now = timezone.now()
        booking.status = BookingStatus.CANCELLED
        booking.refund_minor = booking.total_minor
        booking.cancel_reason = "Departure cancelled by us: full refund."
        booking.cancelled_at = now
        booking.updated_at = now
        booking.save(update_fields=["status", "refund_minor", "cancel_reason", "cancelled_at", "updated_at"])
        enqueue_on_commit(booking_cancelled, booking.pk)
    return booking


def booking_departure_move(*, actor: Any, booking_id: int, departure_id: int) -> Booking:
    """The traveller of a cancelled departure moves the booking to another open departure of
    the same trip with room, at the price they booked (the company's cancellation must not
    cost them more)."""
    with transaction.atomic():
        booking = _cancelled_departure_booking(actor, booking_id)
        if departure_id == booking.departure_id:
            raise ServiceError("Choose another departure.", field="departure")
        # Both rows locked in id order: concurrent moves between two departures cannot deadlock.
        rows = {
            d.pk: d
            for d in Departure.objects.select_for_update(of=("self",))
            .filter(pk__in=[booking.departure_id, departure_id])
            .order_by("pk")
        }
        target = rows.get(departure_id)
        if target is None or target.trip_id != rows[booking.departure_id].trip_id:
            raise ServiceError("Choose one of this trip's departures.", field="departure")
        if not target.is_open or target.date <= local_today():
            raise ServiceError("That departure is not open for booking; choose another.", field="departure")
        refusal = seats_refusal(target, booking.travellers)
        if refusal is not None:
            raise Conflict(refusal.message, field="departure")
        source = rows[booking.departure_id]
        source.seats_taken = max(source.seats_taken - booking.travellers, 0)
        source.save(update_fields=["seats_taken"])
        target.seats_taken += booking.travellers
        target.save(update_fields=["seats_taken"])
        booking.departure = target
        booking.travel_date = target.date
        booking.updated_at = timezone.now()
        booking.save(update_fields=["departure", "travel_date", "updated_at"])
    return booking
