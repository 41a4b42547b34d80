"""What the bookings services share: today's date, the capability a staff action needs, the
number of travellers as the rules accept it, and a booking locked for a change. For the
modules of this package only; views and other apps call the services themselves."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.utils import timezone

from accounts.models import Capability
from accounts.permissions import capability_has
from bookings.models import Booking
from bookings.policy import TRAVELLERS_AT_LEAST_ONE, TRAVELLERS_WHOLE_NUMBER, travellers_at_most_message
from taskforge.errors import NotFound, ServiceError


def booking_event_data(booking: Booking) -> dict[str, Any]:
    """A booking as business events (webhooks to the booking desk) describe it."""
    return {
        "id": booking.pk,
        "reference": f"B{booking.pk:06d}",
        "user_id": booking.user_id,
        "trip_code": booking.trip_id,
        "departure_id": booking.departure_id,
        "travel_date": booking.travel_date,
        "travellers": booking.travellers,
        "total_minor": booking.total_minor,
        "refund_minor": booking.refund_minor,
        "currency": booking.currency,
        "status": booking.status,
        "payment_reference": booking.payment_reference,
        "cancel_reason": booking.cancel_reason,
        "created_at": booking.created_at,
        "confirmed_at": booking.confirmed_at,
        "cancelled_at": booking.cancelled_at,
    }


def local_today() -> dt.date:
    return timezone.localdate()


def capability_require(actor: Any, capability: Capability) -> None:
    """Catalogue and booking-desk actions: to anyone without the capability they do not exist."""
    if not capability_has(actor, capability):
        raise NotFound("Not found.")


def travellers_check(travellers: Any) -> int:
    try:
        value = int(travellers)
    except (TypeError, ValueError):
        raise ServiceError(TRAVELLERS_WHOLE_NUMBER, field="travellers") from None
    if value < 1:
        raise ServiceError(TRAVELLERS_AT_LEAST_ONE, field="travellers")
    if value > settings.BOOKING_MAX_TRAVELLERS:
        raise ServiceError(travellers_at_most_message(), field="travellers")
    return value


def booking_for_update(actor: Any, booking_id: int) -> Booking:
    """The booking, locked, if the actor may change it (owner or booking desk; RLS enforces the same)."""
    qs = Booking.objects.select_for_update()
    if not capability_has(actor, Capability.BOOKING_DESK):
        qs = qs.filter(user_id=getattr(actor, "pk", None))
    booking = qs.filter(pk=booking_id).first()
    if booking is None:
        raise NotFound("No such booking.")
    return booking
