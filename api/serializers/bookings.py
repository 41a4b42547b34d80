"""A trip's departures, bookings (the traveller's and the booking desk's) and refund quotes.

Money is integer minor units (pence, cents) of `currency`, as in the database; dates are
ISO 8601; timestamps RFC 3339 UTC."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from bookings.models import BookingStatus, DepartureStatus, PaymentMethod
from bookings.policy import CANCEL_REASON_MAX_LENGTH
from bookings.selectors import BookingRow
from bookings.selectors_departures import DepartureRow


class DepartureSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    date = serializers.DateField(help_text="The day the trip leaves")
    status = serializers.ChoiceField(choices=DepartureStatus.choices)
    capacity = serializers.IntegerField(help_text="Seats on this departure")
    seats_left = serializers.IntegerField(help_text="Seats for sale (not booked, not held for the waiting list)")
    unit_price_minor = serializers.IntegerField(help_text="Price per person (this departure's, else the trip's)")
    currency = serializers.CharField()
    bookable = serializers.BooleanField(help_text="Open, still to come and with seats left")

    @staticmethod
    def of(row: DepartureRow) -> dict[str, Any]:
        departure = row.departure
        return {
            "id": departure.pk,
            "date": departure.date,
            "status": departure.status,
            "capacity": departure.capacity,
            "seats_left": row.seats_left,
            "unit_price_minor": row.unit_price_minor,
            "currency": row.trip.currency,
            "bookable": row.bookable,
        }


class BookingSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    reference = serializers.CharField(help_text="The reference shown to the traveller, e.g. B000042")
    trip_code = serializers.CharField()
    trip_name = serializers.CharField()
    departure_id = serializers.IntegerField()
    travel_date = serializers.DateField()
    travellers = serializers.IntegerField(help_text="Travellers on the booking now")
    removed_travellers = serializers.IntegerField(help_text="Travellers taken off since (their seats released)")
    unit_price_minor = serializers.IntegerField()
    total_minor = serializers.IntegerField(help_text="What was booked: unit price x all travellers ever booked")
    refund_minor = serializers.IntegerField(allow_null=True, help_text="Refunded under the policy (null: nothing)")
    net_minor = serializers.IntegerField(help_text="What the booking comes to: total less refunds")
    currency = serializers.CharField()
    status = serializers.ChoiceField(choices=BookingStatus.choices)
    payment_recorded = serializers.BooleanField(help_text="The booking desk recorded a payment")
    cancel_reason = serializers.CharField(allow_blank=True)
    booked_at = serializers.DateTimeField()
    confirmed_at = serializers.DateTimeField(allow_null=True)
    cancelled_at = serializers.DateTimeField(allow_null=True)

    @staticmethod
    def of(row: BookingRow) -> dict[str, Any]:
        booking = row.booking
        return {
            "id": booking.pk,
            "reference": row.reference,
            "trip_code": booking.trip_id,
            "trip_name": row.trip_name,
            "departure_id": booking.departure_id,
            "travel_date": booking.travel_date,
            "travellers": booking.travellers,
            "removed_travellers": booking.removed_travellers,
            "unit_price_minor": booking.unit_price_minor,
            "total_minor": booking.total_minor,
            "refund_minor": booking.refund_minor,
            "net_minor": booking.net_minor,
            "currency": booking.currency,
            "status": booking.status,
            "payment_recorded": bool(booking.payment_reference),
            "cancel_reason": booking.cancel_reason,
            "booked_at": booking.booking_date,
            "confirmed_at": booking.confirmed_at,
            "cancelled_at": booking.cancelled_at,
        }


class DeskBookingSerializer(BookingSerializer):
    """What the booking desk sees as well: the traveller and the payment reference."""

    user_id = serializers.IntegerField()
    traveller_email = serializers.EmailField()
    payment_reference = serializers.CharField(allow_blank=True)

    @staticmethod
    def of(row: BookingRow) -> dict[str, Any]:
        booking = row.booking
        return {
            **BookingSerializer.of(row),
            "user_id": booking.user_id,
            "traveller_email": booking.user.email,
            "payment_reference": booking.payment_reference,
        }


class BookingCreateSerializer(serializers.Serializer):
    trip_code = serializers.RegexField(r"^[A-Za-z0-9-]{1,20}$", max_length=20, help_text="The trip's code")
    travel_date = serializers.DateField(
        required=False,
        help_text="One of the trip's departure dates (GET …/trips/{code}/departures/); default: its next open one",
    )
    travellers = serializers.IntegerField(
        min_value=1, max_value=32767, help_text="At most BOOKING_MAX_TRAVELLERS (the answer says how many)"
    )
    expected_total_minor = serializers.IntegerField(
        min_value=1,
        max_value=2**62,
        help_text="The total you showed the traveller (unit_price_minor x travellers of the departure). If the "
        "price changed since, nothing is booked and the answer says the current total.",
    )


class RefundQuoteSerializer(serializers.Serializer):
    booking_id = serializers.IntegerField()
    days_before = serializers.IntegerField(help_text="Days from today to the travel date")
    percent = serializers.IntegerField(help_text="The policy's share: 100 at 30+ days, 50 at 7+ days, else 0")
    refund_minor = serializers.IntegerField(help_text="What cancelling today refunds for the travellers on it")
    already_refunded_minor = serializers.IntegerField(help_text="Refunded earlier for travellers taken off")
    currency = serializers.CharField()
    cancellable = serializers.BooleanField(help_text="The traveller may still cancel (the trip has not started)")


class PaymentSerializer(serializers.Serializer):
    reference = serializers.CharField(max_length=100, help_text="The payment's reference, e.g. PAY-2026-0042")
    amount_minor = serializers.IntegerField(
        required=False, min_value=1, help_text="Amount in minor units; left out: the whole balance due"
    )
    method = serializers.ChoiceField(
        choices=PaymentMethod.choices, default=PaymentMethod.CARD, help_text="How it was paid"
    )


class DeskCancelSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=CANCEL_REASON_MAX_LENGTH, help_text="Why (the traveller is told)")
    full_refund = serializers.BooleanField(
        default=False, help_text="Refund the whole total (a cancellation by the company), not the policy's share"
    )


class DeskQuerySerializer(serializers.Serializer):
    """The booking desk's filters (validated by the site's own filter form)."""

    status = serializers.ChoiceField(required=False, choices=BookingStatus.choices)
    trip = serializers.CharField(required=False, max_length=20, help_text="A trip code")
    travel_from = serializers.DateField(required=False)
    travel_to = serializers.DateField(required=False)
    traveller = serializers.CharField(required=False, max_length=254, help_text="Part of the traveller's email")
