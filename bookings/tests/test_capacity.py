"""Concurrent bookings at the last seats: real commits, one connection per thread."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from typing import Any

import pytest
from django.db import connections

from bookings import services
from bookings.models import Booking, Departure
from bookings.services import departures
from bookings.tests.conftest import create_trip
from taskforge.errors import Conflict
from taskforge.testing.personas import acting, person_create


def _users(role: str, count: int) -> list[Any]:
    return [
        person_create(role, f"{role}{i}-{uuid.uuid4().hex[:8]}@example.com", "correct-horse-battery")
        for i in range(count)
    ]


def _race(trip: Any, travellers: list[Any], seats_each: int) -> tuple[list[int], list[str]]:
    barrier = threading.Barrier(len(travellers))
    booked: list[int] = []
    refused: list[str] = []
    lock = threading.Lock()

    def attempt(user: Any) -> None:
        try:
            with acting(user):
                barrier.wait(timeout=20)
                try:
                    booking, created = services.booking_create(
                        actor=user,
                        trip_code=trip.code,
                        travel_date=trip.start,
                        travellers=seats_each,
                        idempotency_key=uuid.uuid4(),
                        expected_total_minor=trip.price_minor * seats_each,
                    )
                    with lock:
                        booked.append(booking.pk)
                except Conflict as exc:
                    with lock:
                        refused.append(exc.message)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attempt, args=(user,)) for user in travellers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return booked, refused


@pytest.mark.parametrize(("seats", "clients", "each", "expected"), [(5, 12, 1, 5), (5, 6, 2, 2)])
def test_concurrent_bookings_never_oversell(committed_db, seats: int, clients: int, each: int, expected: int) -> None:
    (editor,) = _users("catalogue_editor", 1)
    (desk,) = _users("booking_desk", 1)
    trip = create_trip(editor, seats=seats)
    travellers = _users("traveller", clients)
    booked, refused = _race(trip, travellers, each)
    assert len(booked) == expected
    assert len(refused) == clients - expected
    assert all("left" in msg or "sold out" in msg for msg in refused)
    departure = Departure.objects.get(trip=trip)
    assert departure.seats_taken == expected * each <= seats
    with acting(desk):
        live = Booking.objects.filter(trip=trip).exclude(status="cancelled")
        assert live.count() == expected
        assert sum(live.values_list("travellers", flat=True)) == departure.seats_taken


def test_concurrent_double_submit_creates_one_booking(committed_db) -> None:
    (editor,) = _users("catalogue_editor", 1)
    (traveller,) = _users("traveller", 1)
    trip = create_trip(editor, seats=10)
    key = uuid.uuid4()
    results: list[tuple[int, bool]] = []
    barrier = threading.Barrier(4)

    def submit() -> None:
        try:
            with acting(traveller):
                barrier.wait(timeout=20)
                booking, created = services.booking_create(
                    actor=traveller,
                    trip_code=trip.code,
                    travel_date=trip.start,
                    travellers=2,
                    idempotency_key=key,
                    expected_total_minor=trip.price_minor * 2,
                )
                results.append((booking.pk, created))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(results) == 4
    assert len({pk for pk, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    assert Departure.objects.get(trip=trip).seats_taken == 2


def test_concurrent_bookings_of_two_departures_keep_each_within_its_seats(committed_db) -> None:
    """Two departures of one trip raced at once: each sells exactly its own seats, at its own price."""
    (editor,) = _users("catalogue_editor", 1)
    trip = create_trip(editor, seats=3, price_minor=10_000)
    later_date = trip.start + dt.timedelta(days=30)
    with acting(editor):
        later = departures.departure_add(
            actor=editor, trip_code=trip.code, date=later_date, seats=4, price_minor=12_000
        )
    travellers = _users("traveller", 10)
    barrier = threading.Barrier(len(travellers))
    outcomes: list[tuple[dt.date, bool]] = []
    lock = threading.Lock()

    def attempt(i: int, user: Any) -> None:
        date, unit = (trip.start, 10_000) if i % 2 else (later_date, 12_000)
        try:
            with acting(user):
                barrier.wait(timeout=20)
                try:
                    services.booking_create(
                        actor=user, trip_code=trip.code, travel_date=date, travellers=1,
                        idempotency_key=uuid.uuid4(), expected_total_minor=unit,
                    )  # fmt: skip
                    ok = True
                except Conflict:
                    ok = False
                with lock:
                    outcomes.append((date, ok))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attempt, args=(i, u)) for i, u in enumerate(travellers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(outcomes) == 10
    assert sum(ok for date, ok in outcomes if date == trip.start) == 3
    assert sum(ok for date, ok in outcomes if date == later_date) == 4
    first = Departure.objects.get(trip=trip, date=trip.start)
    later.refresh_from_db()
    assert (first.seats_taken, later.seats_taken) == (3, 4)


def test_concurrent_moves_into_a_departure_never_overfill_it(committed_db) -> None:
    """Travellers of a cancelled departure all move to the one other departure at once: it
    takes only as many as it has seats; the rest are refused and keep their booking."""
    (editor,) = _users("catalogue_editor", 1)
    trip = create_trip(editor, seats=10, price_minor=10_000)
    with acting(editor):
        target = departures.departure_add(
            actor=editor, trip_code=trip.code, date=trip.start + dt.timedelta(days=30), seats=3
        )
    travellers = _users("traveller", 6)
    bookings = {}
    for user in travellers:
        with acting(user):
            bookings[user.pk] = services.booking_create(
                actor=user, trip_code=trip.code, travel_date=trip.start, travellers=1,
                idempotency_key=uuid.uuid4(), expected_total_minor=10_000,
            )[0].pk  # fmt: skip
    first = Departure.objects.get(trip=trip, date=trip.start)
    with acting(editor):
        departures.departure_cancel(actor=editor, departure_id=first.pk, reason="Storm")
    barrier = threading.Barrier(len(travellers))
    moved: list[int] = []
    lock = threading.Lock()

    def move(user: Any) -> None:
        try:
            with acting(user):
                barrier.wait(timeout=20)
                try:
                    departures.booking_departure_move(actor=user, booking_id=bookings[user.pk], departure_id=target.pk)
                    with lock:
                        moved.append(user.pk)
                except Conflict:
                    pass
        finally:
            connections.close_all()

    threads = [threading.Thread(target=move, args=(u,)) for u in travellers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(moved) == 3
    target.refresh_from_db()
    first.refresh_from_db()
    assert (target.seats_taken, first.seats_taken) == (3, 3)
