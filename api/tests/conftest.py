"""Fixtures of the API tests: the shared personas, their tokens, and API clients.

Other helpers' API tests use these too: `api` (a client with no credentials),
`token_for(user, scope=...)` (a real token made by the service), `bearer(client, secret)`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiToken
from accounts.services.api_tokens import api_token_create
from taskforge.dbcontext import context_for_system, db_context
from taskforge.testing.personas import acting


@pytest.fixture(autouse=True)
def _api_test_state(settings) -> None:
    from accounts.selectors import profile_breaker_reset
    from sync.relay import store_pause_clear

    # A test that stopped the document server leaves per-process pauses behind.
    store_pause_clear()
    profile_breaker_reset()
    # High enough that no test but the rate-limit ones meets them.
    settings.API_TOKEN_RATE = "100000/minute"
    settings.API_IP_RATE = "100000/minute"


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def token_for(db) -> Callable[..., str]:
    """token_for(user, scope="read_write", expires_in=None, revoked=False) -> the bearer secret."""

    def make(user: Any, scope: str = "read_write", expires_in: timedelta | None = None, revoked: bool = False) -> str:
        with acting(user):
            created = api_token_create(user=user, name=f"test {scope}", scope=scope)
        if expires_in is not None or revoked:
            with db_context(context_for_system("test token state")):
                fields: dict[str, Any] = {}
                if expires_in is not None:
                    fields["expires_at"] = timezone.now() + expires_in
                if revoked:
                    fields["revoked_at"] = timezone.now()
                ApiToken.objects.filter(pk=created.token.pk).update(**fields)
        return created.secret

    return make


def bearer(secret: str | None) -> dict[str, str]:
    """Headers for a request with this token (none for None)."""
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"} if secret else {}


def trip_make(editor: Any, code: str, *, active: bool = True) -> Any:
    """A trip made through the catalogue services, its document and projection applied."""
    import datetime as dt
    import io

    from PIL import Image

    from bookings import selectors, services
    from bookings.images import trip_image_store
    from sync.relay import relay_sweep

    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (40, 120, 200)).save(buffer, format="PNG")
    with acting(editor):
        trip = services.trip_create(
            actor=editor,
            code=code,
            content=services.TripContentInput(
                name=f"Lakeside walks {code}",
                resort="Annecy",
                description_md="Walks by the **lakes**.",
                keywords=["lakes", "walking"],
                itinerary=[{"day": 1, "title": "Arrive", "details": "Dinner"}],
            ),
            start=timezone.localdate() + dt.timedelta(days=60),
            length_days=7,
            price_minor=100_000,
            currency="GBP",
            seats=10,
            image=trip_image_store(io.BytesIO(buffer.getvalue())),
        )
    relay_sweep()
    if not active:
        with acting(editor):
            services.trip_set_active(
                actor=editor, trip_code=trip.code, active=False, current_state=selectors.trip_state(trip)
            )
        relay_sweep()
    return trip
