"""The travellers' names and details on a booking: entered and changed by the traveller or
the booking desk, until BOOKING_TRAVELLER_EDIT_DAYS before departure."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from bookings.models import Booking, BookingTraveller
from bookings.policy import traveller_details_deadline, traveller_details_open
from bookings.services.common import booking_for_update, local_today
from taskforge.errors import Conflict, ServiceError

# Letters of any script, spaces, apostrophes, hyphens and dots; at least two letters.
NAME_RE = re.compile(r"^[^\W\d_]+(?:[ '.\-][^\W\d_]*)*$")
PASSPORT_RE = re.compile(r"^[A-Z0-9]{5,20}$")
OLDEST_YEARS = 120

NAME_RULE = "Enter the traveller's full name as on their passport (letters, spaces, ' - . only)."
BIRTH_RULE = "Enter a date of birth in the past (at most 120 years ago)."
PASSPORT_RULE = "A passport number is 5 to 20 letters and digits."


@dataclass(frozen=True)
class TravellerDetails:
    """What a form gives for one traveller (position 1..travellers)."""

    full_name: str
    date_of_birth: dt.date | None
    nationality: str = ""
    passport_number: str = ""
    notes: str = ""


def _clean(position: int, details: TravellerDetails, today: dt.date) -> dict[str, Any]:
    prefix = f"Traveller {position}: "
    name = " ".join((details.full_name or "").split())
    if len(name) < 2 or len(name) > 200 or not NAME_RE.match(name):
        raise ServiceError(prefix + NAME_RULE)
    born = details.date_of_birth
    if not isinstance(born, dt.date) or born >= today or (today.year - born.year) > OLDEST_YEARS:
        raise ServiceError(prefix + BIRTH_RULE)
    nationality = " ".join((details.nationality or "").split())
    if len(nationality) > 60:
        raise ServiceError(prefix + "Keep the nationality under 60 characters.")
    passport = (details.passport_number or "").replace(" ", "").upper()
    if passport and not PASSPORT_RE.match(passport):
        raise ServiceError(prefix + PASSPORT_RULE)
    notes = (details.notes or "").strip()
    if len(notes) > 500:
        raise ServiceError(prefix + "Keep the notes under 500 characters.")
    return {
        "full_name": name,
        "date_of_birth": born,
        "nationality": nationality,
        "passport_number": passport,
        "notes": notes,
    }


def booking_travellers_update(*, actor: Any, booking_id: int, travellers: list[TravellerDetails]) -> Booking:
    """Replace the travellers' details of a booking (one entry per traveller booked). The
    owner or the booking desk; refused once the booking is cancelled or the deadline
    (BOOKING_TRAVELLER_EDIT_DAYS before departure) has passed."""
    today = local_today()
    with transaction.atomic():
        booking = booking_for_update(actor, booking_id)
        if booking.is_cancelled:
            raise Conflict("This booking is cancelled.")
        if not traveller_details_open(booking.travel_date, today):
            deadline = traveller_details_deadline(booking.travel_date)
            raise Conflict(
                f"Traveller details could be changed until {deadline:%-d %B %Y}; please contact us to change them now."
            )
        if len(travellers) != booking.travellers:
            raise ServiceError(f"Give the details of all {booking.travellers} travellers on this booking.")
        cleaned = [_clean(position, details, today) for position, details in enumerate(travellers, start=1)]
        now = timezone.now()
        for position, fields in enumerate(cleaned, start=1):
            BookingTraveller.objects.update_or_create(
                booking=booking,
                position=position,
                defaults={**fields, "user_id": booking.user_id, "updated_at": now},
            )
        BookingTraveller.objects.filter(booking=booking, position__gt=booking.travellers).delete()
    return booking
