"""Migration 0007 moves today's bookings onto departures: migrate back to before it, make a
trip and bookings as they were (one implicit departure per trip; one cancelled booking
left on a date the trip no longer departs), migrate forward, check where each landed.

Migrations run as the owner role (as `make db` does); FORCE ROW LEVEL SECURITY binds the
owner too, so rows are written and read under the system context."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from taskforge.dbcontext import DbContext, db_context
from taskforge.testing.personas import person_create

BEFORE = [("bookings", "0006_departures")]
SYSTEM = DbContext(role="system", user_agent="migration test")


def _as(user: str, password: str | None) -> None:
    """Reconnect `default` as another role (closing the pooled connections of the old one)."""
    raw = connection.connection
    if getattr(connection, "pool", None) is not None and raw is not None:
        connection.connection = None
        raw.close()
    connection.close()
    if hasattr(connection, "close_pool"):
        connection.close_pool()
    connection.settings_dict["USER"] = user
    connection.settings_dict["PASSWORD"] = password or ""


@pytest.fixture
def as_owner(committed_db):
    app = (connection.settings_dict["USER"], connection.settings_dict.get("PASSWORD"))
    owner = settings.DATABASE_OWNER
    _as(owner["USER"], owner.get("PASSWORD"))
    try:
        yield
    finally:
        # Back to the latest, whatever happened, with the post-migrate wiring (row-level
        # security, grants, audit triggers) of the tables the way back dropped and remade.
        call_command("migrate", verbosity=0, interactive=False)
        _as(*app)


def test_bookings_move_onto_one_departure_per_trip(as_owner) -> None:
    traveller = person_create("traveller", "migrating@example.com", "correct-horse-battery")
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    Trip, Departure, Booking = (old.get_model("bookings", m) for m in ("Trip", "Departure", "Booking"))
    start = dt.date(2031, 6, 1)
    with db_context(SYSTEM):
        trip = Trip.objects.create(code="MIG-1", price_minor=50_000, seats=12, start=start, length_days=5)
        bare = Trip.objects.create(code="MIG-2", price_minor=9_000, seats=4, start=start, length_days=2)
        Departure.objects.create(trip=trip, date=start, capacity=12, seats_taken=3)  # made by trip_create
        common = {"user_id": traveller.pk, "trip": trip, "unit_price_minor": 50_000, "currency": "GBP"}
        live = [
            Booking.objects.create(travel_date=start, travellers=n, total_minor=50_000 * n, **common) for n in (1, 2)
        ]
        moved_away = Booking.objects.create(
            travel_date=dt.date(2031, 5, 1), travellers=2, total_minor=100_000, status="cancelled", **common
        )
        ids = [b.pk for b in live] + [moved_away.pk]

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    new = executor.loader.project_state(executor.loader.graph.leaf_nodes()).apps
    Departure, Booking = new.get_model("bookings", "Departure"), new.get_model("bookings", "Booking")
    with db_context(SYSTEM):
        departures = {(d.trip.code, d.date): d for d in Departure.objects.select_related("trip")}
        assert set(departures) == {("MIG-1", start), ("MIG-2", start), ("MIG-1", dt.date(2031, 5, 1))}
        main = departures[("MIG-1", start)]
        assert (main.capacity, main.seats_taken, main.status, main.price_minor) == (12, 3, "open", None)
        created = departures[("MIG-2", start)]
        assert (created.capacity, created.seats_taken, created.status) == (bare.seats, 0, "open")
        history = departures[("MIG-1", dt.date(2031, 5, 1))]
        assert (history.status, history.seats_taken) == ("closed", 0)
        placed = dict(Booking.objects.filter(pk__in=ids).values_list("pk", "departure_id"))
    assert placed == {live[0].pk: main.pk, live[1].pk: main.pk, moved_away.pk: history.pk}
