"""Reads of a trip's departures: the public list on the trip page (seats left), the dates a
traveller may book, the staff list, and the departures a booking of a cancelled departure
may move to. Departures are catalogue data (no row-level security); the bookings on them
are read by the booking selectors under RLS."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from accounts.models import Capability
from accounts.permissions import capability_has
from bookings.models import (
    WAITLIST_LIVE,
    Booking,
    BookingStatus,
    Departure,
    DepartureStatus,
    Trip,
    WaitlistEntry,
)
from bookings.policy import money


@dataclass
class DepartureRow:
    """A departure with its display values (price after the override)."""

    departure: Departure
    trip: Trip

    @property
    def pk(self) -> int:
        return self.departure.pk

    @property
    def date(self) -> dt.date:
        return self.departure.date

    @property
    def seats_left(self) -> int:
        return self.departure.seats_left

    @property
    def unit_price_minor(self) -> int:
        return self.departure.unit_price_minor(self.trip)

    @property
    def price_display(self) -> str:
        return money(self.unit_price_minor, self.trip.currency)

    @property
    def bookable(self) -> bool:
        return self.departure.is_open and self.departure.date > timezone.localdate() and self.seats_left > 0


def trip_departures(trip: Trip) -> list[DepartureRow]:
    """The open departures still to come, soonest first (sold-out ones too: the waiting list)."""
    rows = Departure.objects.filter(trip=trip, status=DepartureStatus.OPEN, date__gt=timezone.localdate())
    return [DepartureRow(d, trip) for d in rows.order_by("date")]


def bookable_dates(trip: Trip) -> list[dt.date]:
    """Dates the booking form offers: open departures still to come."""
    return [row.date for row in trip_departures(trip)]


def all_dates(trip: Trip) -> list[dt.date]:
    """Every departure date of the trip (a booking form posted for one that has since left or
    closed is answered by the service, which says why)."""
    return list(Departure.objects.filter(trip=trip).order_by("date").values_list("date", flat=True))


def staff_departures(viewer: Any, trip: Trip) -> list[DepartureRow]:
    """Every departure of the trip, for catalogue editors and the booking desk (else none)."""
    if not (capability_has(viewer, Capability.CATALOGUE_EDITOR) or capability_has(viewer, Capability.BOOKING_DESK)):
        return []
    return [DepartureRow(d, trip) for d in Departure.objects.filter(trip=trip).order_by("date")]


def departure_for_staff(viewer: Any, departure_id: int) -> DepartureRow | None:
    """One departure for catalogue editors and the booking desk; None (=> 404) for others."""
    if not (capability_has(viewer, Capability.CATALOGUE_EDITOR) or capability_has(viewer, Capability.BOOKING_DESK)):
        return None
    departure = Departure.objects.select_related("trip").filter(pk=departure_id).first()
    return DepartureRow(departure, departure.trip) if departure else None


def departure_of_booking(booking: Booking) -> Departure:
    return Departure.objects.get(pk=booking.departure_id)


def booking_needs_choice(booking: Booking, departure: Departure) -> bool:
    """A live booking on a cancelled departure: its traveller chooses a refund or a move."""
    return booking.status != BookingStatus.CANCELLED and departure.is_cancelled


def move_choices(booking: Booking) -> list[DepartureRow]:
    """Open departures of the booking's trip, still to come, with room for its travellers."""
    trip = Trip.objects.get(code=booking.trip_id)
    return [
        row for row in trip_departures(trip) if row.pk != booking.departure_id and row.seats_left >= booking.travellers
    ]


# --- the waiting list ----------------------------------------------------------------------------


def waitlist_entry_for_owner(viewer: Any, entry_id: int) -> WaitlistEntry | None:
    """A traveller's own waiting-list entry (RLS shows the same); None (=> 404) for others."""
    return (
        WaitlistEntry.objects.select_related("departure", "departure__trip")
        .filter(pk=entry_id, user_id=getattr(viewer, "pk", None))
        .first()
    )


def waitlist_for_staff(viewer: Any, departure: Departure) -> list[WaitlistEntry]:
    """The departure's line (live entries first, in order, then the closed ones), for the
    booking desk; none for anyone else (RLS hides other travellers' entries too)."""
    if not capability_has(viewer, Capability.BOOKING_DESK):
        return []
    entries = WaitlistEntry.objects.select_related("user").filter(departure=departure)
    return sorted(entries, key=lambda e: (e.status not in WAITLIST_LIVE, e.created_at, e.pk))
