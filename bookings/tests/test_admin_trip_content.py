"""The admin's trip content pages: site admins list, search, view and edit the content; the
edit goes through the trip service and the outbox (audited), never a direct write; fields
copied from the Trip row are read-only with a link to the staff page; others are refused."""

from __future__ import annotations

import pytest
from django.test import Client

from audit.models import AuditLog
from bookings import selectors, services
from bookings.models import Trip, TripContent, TripListing
from bookings.tests.stored import trip_doc
from sync.models import OutboxEvent, OutboxStatus
from sync.reconcile import outbox_reconcile
from sync.relay import relay_sweep
from taskforge.dbcontext import DbContext, db_context
from taskforge.errors import Conflict, NotFound
from taskforge.testing.personas import acting

pytestmark = pytest.mark.django_db

CHANGE = "/admin/bookings/tripcontent/{}/change/"


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _post_data(doc: dict, **overrides) -> dict:
    data = {
        "name": doc["name"],
        "resort": doc["resort"],
        "description_md": doc["description_md"],
        "keywords_text": ", ".join(doc["keywords"]),
        "itinerary_text": "\n".join(f"{d['title']}: {d['details']}" for d in doc["itinerary"]),
        "expected_version": str(doc["version"]),
    }
    data.update(overrides)
    return data


def test_site_admins_list_search_and_view_trip_content(make_trip, make_user) -> None:
    make_trip(code="ADM-1", name="Lagoon Villas", resort="Maldives")
    make_trip(code="ADM-2", name="Glacier Walk", resort="Patagonia")
    client = _client(make_user("admin"))
    listing = client.get("/admin/bookings/tripcontent/")
    assert listing.status_code == 200 and b"ADM-1" in listing.content and b"ADM-2" in listing.content
    found = client.get("/admin/bookings/tripcontent/", {"q": "glacier"})
    assert b"ADM-2" in found.content and b"ADM-1" not in found.content
    page = client.get(CHANGE.format("ADM-1"))
    html = page.content.decode()
    assert page.status_code == 200 and "Lagoon Villas" in html
    # Copied facts are read-only (no input), with the way to change them.
    assert 'name="price_minor"' not in html and 'name="seats"' not in html and 'name="name"' in html
    assert 'href="/trips/staff/ADM-1/edit/"' in html
    assert client.get("/admin/bookings/tripcontent/add/").status_code == 403
    assert client.get(CHANGE.format("ADM-1").replace("change", "delete")).status_code == 403


def test_an_admin_edit_goes_through_the_service_and_the_outbox(make_trip, make_user) -> None:
    trip = make_trip(code="ADM-3", name="Old name", price_minor=150_000)
    admin = make_user("admin")
    doc = trip_doc("ADM-3")
    response = _client(admin).post(
        CHANGE.format("ADM-3"),
        _post_data(
            doc,
            name="New  name",
            keywords_text="Reef, beach",
            itinerary_text="Arrive: Seaplane\nDive",
            price_minor="1",  # a copied field: not on the form, so ignored
        ),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    # Not written directly: the Trip row moved on and an event waits for the relay.
    trip.refresh_from_db()
    assert trip.version == 2 and trip.price_minor == 150_000
    event = OutboxEvent.objects.get(aggregate_type="trip", aggregate_id="ADM-3", version=2)
    assert event.status == OutboxStatus.PENDING or trip_doc("ADM-3")["version"] == 2
    relay_sweep()
    stored = trip_doc("ADM-3")
    assert stored["name"] == "New name" and stored["version"] == 2 and stored["price_minor"] == 150_000
    assert stored["keywords"] == ["reef", "beach"]
    assert stored["itinerary"] == [
        {"day": 1, "title": "Arrive", "details": "Seaplane"},
        {"day": 2, "title": "Dive", "details": ""},
    ]
    assert stored["image"] == doc["image"]  # images are kept
    assert TripListing.objects.get(code="ADM-3").name == "New name"
    with db_context(DbContext(user_id="1", role="system")):
        audit = AuditLog.objects.filter(table_name="trip_document", record_id="ADM-3").order_by("-id").first()
    assert audit.operation == "UPDATE" and audit.new_values["name"] == "New name"
    assert audit.user_id == admin.pk
    (report,) = outbox_reconcile(aggregate_types=["trip"])
    assert report.drift == 0


def test_a_stale_admin_form_is_refused_with_what_was_typed(make_trip, make_user) -> None:
    make_trip(code="ADM-4", name="First")
    client = _client(make_user("admin"))
    doc = trip_doc("ADM-4")
    assert client.post(CHANGE.format("ADM-4"), _post_data(doc, name="Second")).status_code == 302
    relay_sweep()
    stale = client.post(CHANGE.format("ADM-4"), _post_data(doc, name="Third"))  # still version 1
    html = stale.content.decode()
    assert stale.status_code == 200 and "changed after the page was loaded" in html and "Third" in html
    assert Trip.objects.get(code="ADM-4").version == 2 and trip_doc("ADM-4")["name"] == "Second"


def test_bad_input_comes_back_on_the_form(make_trip, make_user) -> None:
    make_trip(code="ADM-5")
    client = _client(make_user("admin"))
    doc = trip_doc("ADM-5")
    response = client.post(CHANGE.format("ADM-5"), _post_data(doc, name="  ", keywords_text="x" * 41))
    assert response.status_code == 200
    assert "This field is required" in response.content.decode() and "under 40 characters" in response.content.decode()
    assert Trip.objects.get(code="ADM-5").version == 1


@pytest.mark.parametrize("kind", ["catalogue_editor", "traveller", "staff"])
def test_people_who_are_not_site_admins_are_refused(make_trip, make_user, kind) -> None:
    make_trip(code="ADM-6", name="Kept")
    client = _client(make_user(kind))
    doc = trip_doc("ADM-6")
    for path in ("/admin/bookings/tripcontent/", CHANGE.format("ADM-6")):
        assert client.get(path).status_code == 403, path
    assert client.post(CHANGE.format("ADM-6"), _post_data(doc, name="Hacked")).status_code == 403
    assert Trip.objects.get(code="ADM-6").version == 1
    assert TripContent.objects.for_code("ADM-6").name == "Kept"


def test_trip_content_edit_is_for_catalogue_editors_and_refuses_a_stale_version(
    make_trip, catalogue_editor, traveller
) -> None:
    trip = make_trip(code="ADM-7", name="Before")
    state = selectors.trip_state(trip)
    content = services.TripContentInput(name="After", resort="Crete", description_md="", keywords=[], itinerary=[])
    with acting(traveller), pytest.raises(NotFound):
        services.trip_content_edit(
            actor=traveller, trip_code="ADM-7", expected_version=1, current_state=state, content=content
        )
    with acting(catalogue_editor):
        edited = services.trip_content_edit(
            actor=catalogue_editor, trip_code="ADM-7", expected_version=1, current_state=state, content=content
        )
        assert edited.version == 2
        with pytest.raises(Conflict):
            services.trip_content_edit(
                actor=catalogue_editor, trip_code="ADM-7", expected_version=1, current_state=state, content=content
            )
    relay_sweep()
    assert trip_doc("ADM-7")["name"] == "After"
