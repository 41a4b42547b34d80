"""The booking desk records a booking's payment reference."""

from __future__ import annotations

import re
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import Capability
from bookings.models import Booking, BookingStatus
from bookings.policy import PAYMENT_REFERENCE_RULE
from bookings.services.common import booking_for_update, capability_require
from taskforge.errors import Conflict, ServiceError

PAYMENT_REFERENCE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._/#-]{0,99}$")


def booking_record_payment(*, actor: Any, booking_id: int, reference: str) -> Booking:
    """Staff record the payment reference of a booking."""
    capability_require(actor, Capability.BOOKING_DESK)
    reference = (reference or "").strip()
    if not PAYMENT_REFERENCE_RE.match(reference):
        raise ServiceError(PAYMENT_REFERENCE_RULE, field="reference")
    with transaction.atomic():
        booking = booking_for_update(actor, booking_id)
        if booking.status == BookingStatus.CANCELLED:
            raise Conflict("This booking is cancelled.")
        booking.payment_reference = reference
        booking.updated_at = timezone.now()
        booking.save(update_fields=["payment_reference", "updated_at"])
    return booking
