"""Booking services: totals, idempotency, the cancellation policy, reductions, staff actions."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.utils import timezone

from bookings import services
from bookings.models import Booking, BookingStatus, Departure
from bookings.policy import money, price_range_for, refund_quote
from sync.models import OutboxEvent
from taskforge.errors import Conflict, NotFound, ServiceError
from taskforge.testing.personas import acting

pytestmark = pytest.mark.django_db
TODAY = dt.date(2030, 1, 1)


@pytest.mark.parametrize(
    ("days", "percent", "refund"),
    [(60, 100, 10_000), (30, 100, 10_000), (29, 50, 5_000), (7, 50, 5_000), (6, 0, 0), (0, 0, 0)],
)
def test_refund_policy_tiers(days: int, percent: int, refund: int) -> None:
    quote = refund_quote(total_minor=10_000, travel_date=TODAY + dt.timedelta(days=days), today=TODAY)
    assert (quote.days_before, quote.percent, quote.amount_minor) == (days, percent, refund)


def test_refund_rounds_down_to_the_minor_unit() -> None:
    assert refund_quote(total_minor=10_001, travel_date=TODAY + dt.timedelta(days=10), today=TODAY).amount_minor == 5000


def test_price_range_thresholds(settings) -> None:
    settings.TRIP_PRICE_BUDGET_MAX_MINOR = 100_000
    settings.TRIP_PRICE_LUXURY_MIN_MINOR = 300_000
    assert [price_range_for(p) for p in (99_999, 100_000, 299_999, 300_000)] == [
        "budget",
        "mid-range",
        "mid-range",
        "luxury",
    ]
    assert money(123456, "GBP") == "£1,234.56" and money(5, "EUR") == "€0.05"


def _create(user, trip, travellers=1, key=None, total="auto"):
    with acting(user):
        return services.booking_create(
            actor=user,
            trip_code=trip.code,
            travel_date=trip.start,
            travellers=travellers,
            idempotency_key=key or uuid.uuid4(),
            expected_total_minor=trip.price_minor * travellers if total == "auto" else total,
        )


def test_booking_total_is_computed_on_the_server(make_trip, traveller) -> None:
    trip = make_trip(price_minor=123_45)
    booking, created = _create(traveller, trip, 3)
    assert created and booking.total_minor == 370_35 and booking.unit_price_minor == 123_45
    assert booking.status == BookingStatus.PENDING and booking.currency == "GBP"
    assert Departure.objects.get(trip=trip).seats_taken == 3


def test_tampered_total_is_refused_and_nothing_is_booked(make_trip, traveller) -> None:
    trip = make_trip(price_minor=100_00)
    with pytest.raises(ServiceError, match="does not match the price") as info:
        _create(traveller, trip, 2, total=1)
    assert info.value.field == "expected_total" and info.value.status == 400
    with pytest.raises(ServiceError, match="Review the price"):
        _create(traveller, trip, 2, total=None)
    with acting(traveller):
        assert Booking.objects.count() == 0
    assert Departure.objects.get(trip=trip).seats_taken == 0


def test_same_idempotency_key_books_once(make_trip, traveller) -> None:
    trip = make_trip()
    key = uuid.uuid4()
    first, created_first = _create(traveller, trip, 2, key=key)
    second, created_second = _create(traveller, trip, 2, key=key)
    assert (created_first, created_second) == (True, False)
    assert first.pk == second.pk
    assert Departure.objects.get(trip=trip).seats_taken == 2


@pytest.mark.parametrize("travellers", [0, -1, 13, 10**12, "two", None, "1.5"])
def test_bad_traveller_counts_are_refused(make_trip, traveller, travellers) -> None:
    trip = make_trip()
    with pytest.raises(ServiceError) as info:
        _create(traveller, trip, travellers, total=None)
    assert info.value.field == "travellers"


def test_unknown_inactive_and_past_trips_are_refused(make_trip, traveller, catalogue_editor) -> None:
    with pytest.raises(NotFound), acting(traveller):
        services.booking_create(
            actor=traveller,
            trip_code="NOPE",
            travel_date=TODAY,
            travellers=1,
            idempotency_key=uuid.uuid4(),
            expected_total_minor=1,
        )
    trip = make_trip()
    with pytest.raises(ServiceError, match="departure dates"), acting(traveller):
        services.booking_create(
            actor=traveller,
            trip_code=trip.code,
            travel_date=trip.start + dt.timedelta(days=1),
            travellers=1,
            idempotency_key=uuid.uuid4(),
            expected_total_minor=trip.price_minor,
        )
    with acting(catalogue_editor):
        services.trip_set_active(
            actor=catalogue_editor, trip_code=trip.code, active=False, current_state={"name": "n", "resort": "r"}
        )
    with pytest.raises(ServiceError, match="no longer on sale"):
        _create(traveller, trip, 1)
    past = make_trip()
    # The trip's departure is today: it has left.
    type(past).objects.filter(pk=past.pk).update(start=timezone.localdate())
    Departure.objects.filter(trip=past).update(date=timezone.localdate())
    past.refresh_from_db()
    with pytest.raises(ServiceError, match="already left"):
        _create(traveller, past, 1)


def test_sold_out_is_a_conflict(make_trip, traveller, other_traveller) -> None:
    trip = make_trip(seats=3)
    _create(traveller, trip, 2)
    with pytest.raises(Conflict, match="Only 1 seat left"):
        _create(other_traveller, trip, 2)
    _create(other_traveller, trip, 1)
    with pytest.raises(Conflict, match="sold out"):
        _create(traveller, trip, 1)


@pytest.mark.parametrize(("days", "refund_percent"), [(45, 100), (10, 50), (3, 0)])
def test_traveller_cancel_applies_policy_and_releases_seats(
    make_trip,
    traveller,
    days,
    refund_percent,
    django_capture_on_commit_callbacks,
) -> None:
    trip = make_trip(start=timezone.localdate() + dt.timedelta(days=days), price_minor=200_00)
    booking, _ = _create(traveller, trip, 2)
    with acting(traveller), django_capture_on_commit_callbacks() as callbacks:
        cancelled = services.booking_cancel(actor=traveller, booking_id=booking.pk)
    assert cancelled.status == BookingStatus.CANCELLED
    assert cancelled.refund_minor == 400_00 * refund_percent // 100
    assert Departure.objects.get(trip=trip).seats_taken == 0
    # After commit: the cancellation email job, the waiting list's offer round, and the fast
    # path of the booking.cancelled business event (recorded in the outbox for webhooks).
    assert len(callbacks) == 3
    assert OutboxEvent.objects.filter(aggregate_type="webhook", event_type="booking.cancelled").count() == 1
    with pytest.raises(Conflict, match="already cancelled"), acting(traveller):
        services.booking_cancel(actor=traveller, booking_id=booking.pk)


def test_traveller_cannot_touch_someone_elses_booking(make_trip, traveller, other_traveller) -> None:
    trip = make_trip()
    booking, _ = _create(traveller, trip, 2)
    with acting(other_traveller):
        with pytest.raises(NotFound):
            services.booking_cancel(actor=other_traveller, booking_id=booking.pk)
        with pytest.raises(NotFound):
            services.booking_reduce_travellers(actor=other_traveller, booking_id=booking.pk, travellers=1)
        with pytest.raises(NotFound):
            services.booking_confirm(actor=other_traveller, booking_id=booking.pk)
        with pytest.raises(NotFound):
            services.booking_record_payment(actor=other_traveller, booking_id=booking.pk, reference="PAY-1")
    with acting(traveller):
        booking.refresh_from_db()
    assert booking.status == BookingStatus.PENDING and booking.travellers == 2


def test_reduce_travellers_frees_seats_and_refunds_in_full_a_month_out(make_trip, traveller) -> None:
    trip = make_trip(price_minor=150_00, seats=10)  # 60 days out: full refund tier
    booking, _ = _create(traveller, trip, 4)
    with acting(traveller):
        with pytest.raises(ServiceError, match="fewer than the current 4"):
            services.booking_reduce_travellers(actor=traveller, booking_id=booking.pk, travellers=4)
        with pytest.raises(ServiceError):
            services.booking_reduce_travellers(actor=traveller, booking_id=booking.pk, travellers=0)
        reduced = services.booking_reduce_travellers(actor=traveller, booking_id=booking.pk, travellers=1)
    assert (reduced.travellers, reduced.removed_travellers) == (1, 3)
    assert (reduced.total_minor, reduced.refund_minor, reduced.net_minor) == (600_00, 450_00, 150_00)
    assert Departure.objects.get(trip=trip).seats_taken == 1


def _reduce(user, booking, travellers, **kwargs):
    with acting(user):
        services.booking_reduce_travellers(actor=user, booking_id=booking.pk, travellers=travellers, **kwargs)
        return Booking.objects.get(pk=booking.pk)


def test_reducing_in_the_no_refund_window_keeps_the_removed_travellers_price(make_trip, traveller) -> None:
    """Issue 14, finding 1: 10 travellers, 3 days before departure, reduced to 1, lost
    £900 of the booking's total with no fee. A cancellation then would refund nothing."""
    trip = make_trip(price_minor=100_00, seats=12, start=timezone.localdate() + dt.timedelta(days=3))
    booking, _ = _create(traveller, trip, 10)
    reduced = _reduce(traveller, booking, 1)
    assert Departure.objects.get(trip=trip).seats_taken == 1  # the seats go back on sale
    assert reduced.travellers == 1
    # Nothing of the £1,000 is given up, and the refund is recorded as none.
    assert reduced.total_minor - (reduced.refund_minor or 0) == 1000_00
    assert (reduced.total_minor, reduced.refund_minor, reduced.net_minor) == (1000_00, 0, 1000_00)
    with acting(traveller):
        cancelled = services.booking_cancel(actor=traveller, booking_id=booking.pk)
    assert (cancelled.refund_minor, cancelled.net_minor) == (0, 1000_00)


def test_reducing_in_the_half_refund_tier_refunds_half_of_the_removed_travellers(make_trip, traveller) -> None:
    trip = make_trip(price_minor=100_00, seats=12, start=timezone.localdate() + dt.timedelta(days=10))
    booking, _ = _create(traveller, trip, 4)
    reduced = _reduce(traveller, booking, 1)
    assert reduced.travellers == 1 and Departure.objects.get(trip=trip).seats_taken == 1
    # 3 travellers (£300) taken off 10 days out: half refunded, half kept.
    assert reduced.total_minor - (reduced.refund_minor or 0) == 100_00 + 150_00
    assert (reduced.total_minor, reduced.refund_minor, reduced.removed_travellers) == (400_00, 150_00, 3)
    # Cancelling later applies the policy to the one traveller left; the earlier refund stays.
    with acting(traveller):
        cancelled = services.booking_cancel(actor=traveller, booking_id=booking.pk)
    assert (cancelled.refund_minor, cancelled.net_minor) == (150_00 + 50_00, 200_00)
    assert Departure.objects.get(trip=trip).seats_taken == 0


def test_a_reduction_on_terms_other_than_those_shown_is_refused(make_trip, traveller) -> None:
    trip = make_trip(price_minor=100_00, seats=12, start=timezone.localdate() + dt.timedelta(days=10))
    booking, _ = _create(traveller, trip, 4)
    with acting(traveller):
        quote = services.booking_reduce_quote(actor=traveller, booking_id=booking.pk, travellers=1)
    assert (quote.removed, quote.removed_minor, quote.refund.percent, quote.refund.amount_minor) == (
        3,
        300_00,
        50,
        150_00,
    )
    assert quote.kept_minor == 150_00
    with acting(traveller), pytest.raises(Conflict, match="now £150.00"):
        services.booking_reduce_travellers(
            actor=traveller, booking_id=booking.pk, travellers=1, expected_refund_minor=300_00
        )
    with acting(traveller):
        booking.refresh_from_db()
    assert (booking.travellers, booking.refund_minor) == (4, None)
    assert Departure.objects.get(trip=trip).seats_taken == 4


def test_a_company_cancellation_after_a_reduction_refunds_the_whole_total(make_trip, traveller, booking_desk) -> None:
    trip = make_trip(price_minor=100_00, seats=12, start=timezone.localdate() + dt.timedelta(days=3))
    booking, _ = _create(traveller, trip, 3)
    _reduce(traveller, booking, 1)
    with acting(booking_desk):
        cancelled = services.booking_cancel(
            actor=booking_desk, booking_id=booking.pk, reason="Hotel closed", full_refund=True
        )
    assert (cancelled.total_minor, cancelled.refund_minor, cancelled.net_minor) == (300_00, 300_00, 0)


def test_staff_confirm_payment_and_cancel_with_reason(
    make_trip,
    traveller,
    booking_desk,
    django_capture_on_commit_callbacks,
) -> None:
    trip = make_trip(start=timezone.localdate() + dt.timedelta(days=3), price_minor=100_00)
    booking, _ = _create(traveller, trip, 1)
    with acting(traveller), pytest.raises(NotFound):
        services.booking_confirm(actor=traveller, booking_id=booking.pk)
    with acting(booking_desk):
        with django_capture_on_commit_callbacks() as callbacks:
            confirmed = services.booking_confirm(actor=booking_desk, booking_id=booking.pk)
        # The confirmation email job and the fast path of the booking.confirmed webhook event.
        assert confirmed.status == BookingStatus.CONFIRMED and len(callbacks) == 2
        assert OutboxEvent.objects.filter(aggregate_type="webhook", event_type="booking.confirmed").count() == 1
        with pytest.raises(Conflict):
            services.booking_confirm(actor=booking_desk, booking_id=booking.pk)
        with pytest.raises(ServiceError, match="payment reference"):
            services.booking_record_payment(actor=booking_desk, booking_id=booking.pk, reference="<script>")
        assert (
            services.booking_record_payment(
                actor=booking_desk, booking_id=booking.pk, reference="PAY-42"
            ).payment_reference
            == "PAY-42"
        )
        with pytest.raises(ServiceError, match="reason"):
            services.booking_cancel(actor=booking_desk, booking_id=booking.pk, reason="  ")
        cancelled = services.booking_cancel(
            actor=booking_desk, booking_id=booking.pk, reason="Hotel closed", full_refund=True
        )
    assert cancelled.refund_minor == 100_00  # 3 days out would refund nothing, but the company cancelled
    assert cancelled.cancel_reason == "Hotel closed"
