"""The trip page's content (document + rendered description) comes from Redis once read,
keyed by the trip's version: an edit shows at once, a pending document is never cached."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from bookings import selectors
from bookings.tests.stored import trip_doc
from bookings.tests.test_trips_staff import _form
from sync.relay import relay_sweep

pytestmark = pytest.mark.django_db


@pytest.fixture
def finds(monkeypatch):
    """Counts trip document reads from the document server."""
    calls: list[str] = []
    real = selectors.trip_document

    def counting(code: str):
        calls.append(code)
        return real(code)

    monkeypatch.setattr(selectors, "trip_document", counting)
    return calls


def test_second_view_is_served_without_the_document_server(client, make_trip, finds) -> None:
    make_trip(code="CACHE-1", description_md="Sunny **beaches** and reefs.")
    first = client.get("/trips/CACHE-1/")
    second = client.get("/trips/CACHE-1/")
    assert first.status_code == second.status_code == 200
    assert "<strong>beaches</strong>" in second.content.decode()
    assert finds == ["CACHE-1"]


def test_seats_left_stay_live_while_the_content_is_cached(client, make_trip, traveller, book) -> None:
    trip = make_trip(code="CACHE-2", seats=10)
    assert "<strong>10</strong> seats left" in client.get("/trips/CACHE-2/").content.decode()
    book(traveller, trip, travellers=3)
    assert "<strong>7</strong> seats left" in client.get("/trips/CACHE-2/").content.decode()


def test_an_edit_is_shown_at_once(client, catalogue_editor, make_trip) -> None:
    make_trip(code="EDIT-C", name="Old name")
    assert "Old name" in client.get("/trips/EDIT-C/").content.decode()
    client.force_login(catalogue_editor)
    data = _form(code=None, name="New name", description="Brand **new** text", image=None, version="1")
    assert client.post("/trips/staff/EDIT-C/edit/", data).status_code == 302
    relay_sweep()
    client.logout()
    page = client.get("/trips/EDIT-C/").content.decode()
    assert "New name" in page and "<strong>new</strong>" in page


def test_a_document_behind_the_trip_version_is_shown_but_not_cached(client, catalogue_editor, make_trip, finds) -> None:
    trip = make_trip(code="LAG-1", name="First name")
    client.force_login(catalogue_editor)
    data = _form(code=None, name="Second name", image=None, version="1")
    assert client.post("/trips/staff/LAG-1/edit/", data).status_code == 302  # relay not run yet
    client.logout()
    finds.clear()  # the edit itself read the document (its current state)
    trip.refresh_from_db()
    assert trip_doc("LAG-1")["version"] == 1 < trip.version
    page = client.get("/trips/LAG-1/").content.decode()
    assert "First name" in page  # the document there is, until the relay catches up
    assert cache.get(selectors._trip_content_key("LAG-1", trip.version)) is None
    relay_sweep()
    assert "Second name" in client.get("/trips/LAG-1/").content.decode()
    client.get("/trips/LAG-1/")
    assert finds.count("LAG-1") == 2  # the lagging read and the first current one; then cached


def test_document_server_down_shows_details_pending_without_caching(client, make_trip, docserver) -> None:
    make_trip(code="DOWN-1", name="Reef week")
    docserver.stop()
    try:
        page = client.get("/trips/DOWN-1/")
        assert page.status_code == 200
        assert "Details pending" in page.content.decode() and "Reef week" in page.content.decode()
    finally:
        docserver.start()
    from sync.relay import store_pause_clear

    store_pause_clear()
    assert "Details pending" not in client.get("/trips/DOWN-1/").content.decode()
