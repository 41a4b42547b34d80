"""Concurrent bookings at the last seats: real commits, one connection per thread."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest
from django.db import connections

from bookings import services
from bookings.models import Booking, Departure
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
