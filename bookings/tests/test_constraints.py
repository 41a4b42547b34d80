"""The database refuses bad rows by itself (CHECK constraints), whatever the application does."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction

from bookings.models import Departure, Trip
from taskforge.dbcontext import DbContext, db_context

pytestmark = pytest.mark.django_db

STAFF = DbContext(role="system", user_agent="test")  # sees every booking, as the relay does


@pytest.fixture
def booked(make_trip, book, traveller):
    trip = make_trip(seats=3)
    return trip, book(traveller, trip, 1)


@pytest.mark.parametrize(
    ("assignment", "constraint"),
    [
        # PostgreSQL reports the first failing CHECK (by name), so some rows break several.
        ("travellers = 0", "bookings_booking_total_matches|bookings_booking_travellers_positive"),
        ("travellers = 0, total_minor = 0", "bookings_booking_total_positive|bookings_booking_travellers_positive"),
        ("total_minor = -5, unit_price_minor = -5", "bookings_booking_total_positive"),
        ("total_minor = 1", "bookings_booking_total_matches"),
        ("status = 'lost'", "bookings_booking_status_valid"),
        ("refund_minor = total_minor + 1", "bookings_booking_refund_range"),
    ],
)
def test_booking_check_constraints(booked, assignment: str, constraint: str) -> None:
    _trip, booking = booked
    with db_context(STAFF), pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE bookings_booking SET {assignment} WHERE id = %s", [booking.pk])


def test_booking_check_constraint_definitions() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = 'bookings_booking'::regclass AND contype = 'c'"
        )
        defs = dict(cursor.fetchall())
    assert "(travellers > 0)" in defs["bookings_booking_travellers_positive"]
    assert "(total_minor > 0)" in defs["bookings_booking_total_positive"]
    assert "pending" in defs["bookings_booking_status_valid"] and "cancelled" in defs["bookings_booking_status_valid"]


def test_departure_cannot_be_oversold_even_without_the_lock(booked) -> None:
    trip, _booking = booked
    # Either check refuses it (bookings alone, or bookings and waiting-list holds together).
    with (
        pytest.raises(IntegrityError, match="bookings_departure_(not_oversold|holds_fit)"),
        transaction.atomic(),
    ):
        Departure.objects.filter(trip=trip).update(seats_taken=4)


@pytest.mark.parametrize(
    ("assignment", "constraint"),
    [
        ("code = 'lower-case'", "bookings_trip_code_format"),
        ("code = 'WAY-TOO-LONG-CODE-1234'", "too long"),
        ("price_minor = 0", "bookings_trip_price_positive"),
        ("length_days = 0", "bookings_trip_length_positive"),
        ("currency = 'XXX'", "bookings_trip_currency_valid"),
    ],
)
def test_trip_check_constraints(booked, assignment: str, constraint: str) -> None:
    trip, _booking = booked
    from django.db import DataError

    with pytest.raises((IntegrityError, DataError), match=constraint), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE bookings_trip SET {assignment} WHERE id = %s", [trip.pk])
    assert Trip.objects.filter(pk=trip.pk, code=trip.code).exists()


def test_expected_indexes_exist() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'bookings_booking'")
        indexes = dict(cursor.fetchall())
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'bookings_trip_listing'")
        listing = dict(cursor.fetchall())
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'bookings_search_word'")
        vocabulary = dict(cursor.fetchall())
    assert "(user_id, travel_date)" in indexes["bookings_user_travel_idx"]
    assert "(status, booking_date)" in indexes["bookings_status_booked_idx"]
    assert "WHERE (NOT ((status)::text = 'cancelled'::text))" in indexes["bookings_active_departure_idx"]
    assert "gin (search_vector)" in listing["bookings_listing_search_vector_idx"]
    assert "gist (word gist_trgm_ops)" in vocabulary["bookings_search_word_trgm_idx"]
