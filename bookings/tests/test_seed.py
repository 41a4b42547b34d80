"""The demo seed goes through the services and can run twice."""

from __future__ import annotations

import io

import pytest

from bookings.images import image_dir, trip_image_path
from bookings.models import Booking, Trip, TripContent, TripListing
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
    assert TripContent.objects.count() == trips
    assert TripListing.objects.filter(resort="Maldives").count() >= 3


def test_seed_demo_recreates_missing_image_files_of_existing_trips() -> None:
    """A kept database with a new or wiped MEDIA_ROOT: the trips exist, their images do not."""
    from accounts.seed import seed_demo as seed_accounts
    from bookings.seed import seed_demo

    out = io.StringIO()
    with db_context(DbContext(role="system", user_agent="test seed")):
        seed_accounts(out)
        seed_demo(out)
        relay_sweep(budget_seconds=30)
        versions = dict(Trip.objects.values_list("code", "version"))
        docs = {
            code: (image, thumb) for code, image, thumb in TripContent.objects.values_list("code", "image", "thumbnail")
        }
        for path in image_dir().iterdir():
            path.unlink()
        seed_demo(out)
        assert dict(Trip.objects.values_list("code", "version")) == versions  # no new versions, same names
    assert len(docs) == len(versions) >= 36
    for image, thumbnail in docs.values():
        for rel in (image, thumbnail):
            assert trip_image_path(rel.rsplit("/", 1)[-1]) is not None, rel
    assert f"{len(docs)} missing trip images recreated" in out.getvalue()
    seed_demo(out)  # and a third run finds nothing to do
    assert out.getvalue().count("missing trip images recreated") == 1
