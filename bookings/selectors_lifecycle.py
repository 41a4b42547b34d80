"""Reads of the booking lifecycle: a booking's payments, balance, receipt and travellers'
details, for the booking page, the receipt page and the emails. Callers have already
loaded the booking for this viewer (bookings.selectors.booking_for_viewer); RLS scopes
these rows the same way."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone

from bookings.models import Booking, BookingTraveller, Payment, Receipt
from bookings.policy import traveller_details_deadline, traveller_details_open


@dataclass(frozen=True)
class Lifecycle:
    """What the booking page shows of a booking's payments, receipt and travellers."""

    payments: list[Payment]
    receipt: Receipt | None
    travellers: list[BookingTraveller]
    balance_due_minor: int
    details_deadline: dt.date
    details_editable: bool
    expected_travellers: int

    @property
    def details_missing(self) -> int:
        return max(0, self.expected_travellers - len(self.travellers))

    @property
    def owed_back_minor(self) -> int:
        """Paid beyond what the booking now comes to (travellers were taken off after paying)."""
        return max(0, -self.balance_due_minor)


def booking_travellers(booking: Booking) -> list[BookingTraveller]:
    """The travellers' details of the booking's current travellers, in order."""
    return list(BookingTraveller.objects.filter(booking=booking, position__lte=booking.travellers).order_by("position"))


def booking_lifecycle(booking: Booking) -> Lifecycle:
    return Lifecycle(
        payments=list(
            Payment.objects.filter(booking=booking).select_related("recorded_by").order_by("created_at", "id")
        ),
        receipt=Receipt.objects.filter(booking=booking).first(),
        travellers=booking_travellers(booking),
        balance_due_minor=booking.balance_due_minor,
        details_deadline=traveller_details_deadline(booking.travel_date),
        details_editable=not booking.is_cancelled and traveller_details_open(booking.travel_date, timezone.localdate()),
        expected_travellers=booking.travellers,
    )
