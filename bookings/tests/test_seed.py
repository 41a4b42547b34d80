"""The demo seed goes through the services and can run twice."""

from __future__ import annotations

import io

import pytest

from bookings.documents import trip_collection
from bookings.models import Booking, Trip, TripListing
from sync.relay import relay_sweep
from taskforge.dbcontext import DbContext, db_context

pytestmark = pytest.mark.django_db


def test_seed_demo_is_complete_and_idempotent() -> None:
    from accounts.seed import seed_demo as seed_accounts
    from bookings.seed import seed_demo

    out = io.StringIO()
    with db_context(DbContext(role="system", user_agent="test seed")):
        seed_accounts(out)
        seed_demo(out)
        relay_sweep(budget_seconds=30)
        trips = Trip.objects.count()
        bookings = Booking.objects.count()
        seed_demo(out)  # again: nothing new
        assert (Trip.objects.count(), Booking.objects.count()) == (trips, bookings)
        emails = set(Booking.objects.values_list("user__email", flat=True))
    assert trips >= 36 and bookings >= 4
    assert emails == {"tara@example.com", "theo@example.com"}
    assert TripListing.objects.count() == trips
    assert trip_collection().count_documents({}) == trips
    assert TripListing.objects.filter(resort="Maldives").count() >= 3
