"""Fixtures of the bookings tests: the personas they act as (taskforge/testing/personas.py:
a booking desk, a catalogue editor, a traveller and another traveller) and a trip factory
that goes through the real service and applies the outbox (MongoDB document + projection)."""

from __future__ import annotations

import datetime as dt
import io
import itertools
import uuid
from typing import Any

import pytest
from django.utils import timezone
from PIL import Image

from bookings import services
from bookings.images import trip_image_store
from sync.relay import relay_sweep
from taskforge.testing.personas import acting

_codes = itertools.count(1)


def png_bytes(size: tuple[int, int] = (64, 48), color: tuple[int, int, int] = (40, 120, 200)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def create_trip(editor: Any, **overrides: Any) -> Any:
    """Create a trip through trip_create as `editor`, a catalogue editor (no outbox application)."""
    n = next(_codes)
    spec: dict[str, Any] = {
        "code": f"T-{n:04d}",
        "name": f"Trip number {n}",
        "resort": "Crete",
        "description_md": "A **fine** trip with beaches.",
        "keywords": ["beach"],
        "itinerary": [{"day": 1, "title": "Arrive", "details": "Welcome dinner"}],
        "start": timezone.localdate() + dt.timedelta(days=60),
        "length_days": 7,
        "price_minor": 100_000,
        "currency": "GBP",
        "seats": 10,
    }
    spec.update(overrides)
    content = services.TripContentInput(
        name=spec["name"],
        resort=spec["resort"],
        description_md=spec["description_md"],
        keywords=spec["keywords"],
        itinerary=spec["itinerary"],
    )
    image = trip_image_store(io.BytesIO(png_bytes()))
    with acting(editor):
        return services.trip_create(
            actor=editor,
            code=spec["code"],
            content=content,
            start=spec["start"],
            length_days=spec["length_days"],
            price_minor=spec["price_minor"],
            currency=spec["currency"],
            seats=spec["seats"],
            image=image,
        )


@pytest.fixture(autouse=True)
def _fast_password_hashing(request, settings):
    """Argon2 costs ~0.3 s per user; these tests never check passwords, except the browser
    test, whose gunicorn verifies with the real hashers."""
    if request.node.get_closest_marker("browser") is None:
        settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def booking_desk(make_user):
    return make_user("booking_desk")


@pytest.fixture
def catalogue_editor(make_user):
    return make_user("catalogue_editor")


@pytest.fixture
def traveller(make_user):
    return make_user("traveller")


@pytest.fixture
def other_traveller(make_user):
    return make_user("traveller")


@pytest.fixture
def make_trip(catalogue_editor):
    """make_trip(**overrides) -> Trip made by the catalogue editor, with the outbox applied
    (document + projection exist)."""

    def factory(apply: bool = True, **overrides: Any) -> Any:
        trip = create_trip(catalogue_editor, **overrides)
        if apply:
            relay_sweep()
        return trip

    return factory


@pytest.fixture
def book(make_user):
    """book(user, trip, travellers=1) -> Booking, made through the service under the user's context."""

    def factory(user: Any, trip: Any, travellers: int = 1) -> Any:
        with acting(user):
            booking, _ = services.booking_create(
                actor=user,
                trip_code=trip.code,
                travel_date=trip.start,
                travellers=travellers,
                idempotency_key=uuid.uuid4(),
                expected_total_minor=trip.price_minor * travellers,
            )
        return booking

    return factory
