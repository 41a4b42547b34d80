"""Staff trip pages: create with an image upload, validation on the form, edit, deactivate."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from bookings.models import Departure, Trip, TripListing
from bookings.tests.conftest import png_bytes
from bookings.tests.stored import trip_doc
from sync.models import OutboxEvent
from sync.relay import relay_sweep

pytestmark = pytest.mark.django_db


def _jpeg_with_exif() -> bytes:
    img = Image.new("RGB", (800, 600), (200, 80, 40))
    exif = Image.Exif()
    exif[0x010F] = "SecretCameraMaker"  # Make
    buffer = io.BytesIO()
    img.save(buffer, format="JPEG", exif=exif)
    return buffer.getvalue()


def _form(**overrides):
    data = {
        "code": "MAL-100",
        "name": "Maldives Reef Week",
        "resort": "Maldives",
        "start": (timezone.localdate() + dt.timedelta(days=40)).isoformat(),
        "length_days": "7",
        "price": "2499.50",
        "currency": "GBP",
        "seats": "12",
        "description": "Snorkel the **house reef**.\n\n<script>alert(1)</script>",
        "keywords": "snorkelling, Beach, beach",
        "itinerary": "Arrive: transfer by seaplane\nReef day",
        "image": SimpleUploadedFile("photo.jpg", _jpeg_with_exif(), content_type="image/jpeg"),
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_staff_create_trip_with_image(client, catalogue_editor, django_capture_on_commit_callbacks) -> None:
    client.force_login(catalogue_editor)
    assert client.get("/trips/staff/new/").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/trips/staff/new/", _form())
    assert response.status_code == 302 and response["Location"] == "/trips/MAL-100/"
    trip = Trip.objects.get(code="MAL-100")
    assert (trip.price_minor, trip.seats, trip.version, trip.active) == (249_950, 12, 1, True)
    assert Departure.objects.get(trip=trip).capacity == 12
    doc = trip_doc("MAL-100")
    assert doc["name"] == "Maldives Reef Week" and doc["keywords"] == ["snorkelling", "beach"]
    assert doc["itinerary"][0] == {"day": 1, "title": "Arrive", "details": "transfer by seaplane"}
    assert doc["price_range"] == "mid-range" and doc["version"] == 1
    # server-generated names, re-encoded JPEG without the uploaded metadata, plus a thumbnail
    image_path = settings.MEDIA_ROOT / doc["image"]
    assert doc["image"].startswith("trips/") and "photo" not in doc["image"]
    with Image.open(image_path) as stored:
        assert stored.format == "JPEG" and "SecretCameraMaker" not in str(stored.getexif())
    with Image.open(settings.MEDIA_ROOT / doc["thumbnail"]) as thumb:
        assert thumb.size == (480, 320)
    listing = TripListing.objects.get(code="MAL-100")
    assert listing.name == "Maldives Reef Week" and "<script>" not in listing.description
    page = client.get("/trips/MAL-100/")
    html = page.content.decode()
    assert "<strong>house reef</strong>" in html and "<script>alert(1)" not in html
    assert "12</strong> seats left" in html
    image = client.get(f"/trips/images/{doc['thumbnail'].split('/')[-1]}")
    assert image.status_code == 200 and image["Content-Type"] == "image/jpeg"
    assert client.get("/trips/images/..%2Fsecret_key").status_code == 404


@pytest.mark.parametrize(
    ("overrides", "field_message"),
    [
        ({"code": "bad code!"}, "upper-case letters"),
        ({"code": "X" * 21}, "at most 20 characters"),
        ({"price": "0"}, "greater than or equal to 0.01"),
        ({"price": "10.999"}, "two decimal places"),
        ({"seats": "0"}, "greater than or equal to 1"),
        ({"length_days": "zero"}, "whole number"),
        ({"start": (timezone.localdate() - dt.timedelta(days=1)).isoformat()}, "must be in the future"),
        ({"name": ""}, "This field is required"),
        ({"image": None}, "This field is required"),
        (
            {"image": SimpleUploadedFile("x.jpg", b"not an image at all", content_type="image/jpeg")},
            "not a readable image",
        ),
        ({"image": SimpleUploadedFile("x.gif", b"GIF89a" + b"\x00" * 50, content_type="image/gif")}, "readable image"),
    ],
)
def test_trip_form_errors_are_shown_on_the_form(client, catalogue_editor, overrides, field_message) -> None:
    client.force_login(catalogue_editor)
    response = client.post("/trips/staff/new/", _form(**overrides))
    assert response.status_code == 400
    assert field_message in response.content.decode()
    assert not Trip.objects.exists() and not OutboxEvent.objects.exists()


def test_duplicate_code_is_a_form_error(client, catalogue_editor, make_trip) -> None:
    make_trip(code="DUP-1")
    client.force_login(catalogue_editor)
    response = client.post("/trips/staff/new/", _form(code="DUP-1"))
    assert response.status_code == 400 and "already exists" in response.content.decode()


def test_oversized_image_is_refused(client, catalogue_editor, settings) -> None:
    settings.TRIP_IMAGE_MAX_BYTES = 2048
    client.force_login(catalogue_editor)
    big = SimpleUploadedFile("big.png", png_bytes((400, 400)) + b"\x00" * 4096, content_type="image/png")
    response = client.post("/trips/staff/new/", _form(image=big))
    assert response.status_code == 400 and "too large" in response.content.decode()


def test_edit_trip_updates_row_document_and_projection(client, catalogue_editor, make_trip) -> None:
    trip = make_trip(code="EDIT-1", name="Old name", seats=10)
    client.force_login(catalogue_editor)
    page = client.get("/trips/staff/EDIT-1/edit/")
    assert page.status_code == 200 and "Old name" in page.content.decode()
    data = _form(code=None, name="New name", seats="20", price="1500", image=None, version="1")
    response = client.post("/trips/staff/EDIT-1/edit/", data)
    assert response.status_code == 302
    relay_sweep()
    trip.refresh_from_db()
    assert (trip.version, trip.seats, trip.price_minor) == (2, 20, 150_000)
    assert Departure.objects.get(trip=trip).capacity == 20
    doc = trip_doc("EDIT-1")
    assert doc["name"] == "New name" and doc["version"] == 2 and doc["image"]  # image kept
    assert TripListing.objects.get(code="EDIT-1").name == "New name"
    stale = client.post("/trips/staff/EDIT-1/edit/", _form(code=None, image=None, version="1"))
    assert stale.status_code == 409 and "changed this trip meanwhile" in stale.content.decode()


def test_seats_cannot_drop_below_booked_and_date_cannot_move(
    client, catalogue_editor, traveller, make_trip, book
) -> None:
    trip = make_trip(code="FULL-1", seats=5)
    book(traveller, trip, 3)
    client.force_login(catalogue_editor)
    response = client.post(
        "/trips/staff/FULL-1/edit/", _form(code=None, image=None, version="1", seats="2", start=trip.start.isoformat())
    )
    assert response.status_code == 400 and "3 seats are already booked" in response.content.decode()
    moved = (trip.start + dt.timedelta(days=5)).isoformat()
    response = client.post("/trips/staff/FULL-1/edit/", _form(code=None, image=None, version="1", start=moved))
    assert response.status_code == 400 and "cannot move" in response.content.decode()
    trip.refresh_from_db()
    assert trip.version == 1


def test_deactivate_takes_trip_off_the_catalogue(client, catalogue_editor, make_trip) -> None:
    make_trip(code="OFF-1", name="Glacier walk")
    client.force_login(catalogue_editor)
    assert "OFF-1" in client.get("/trips/").content.decode()
    assert client.post("/trips/staff/OFF-1/active/", {"active": "0"}).status_code == 302
    relay_sweep()
    assert Trip.objects.get(code="OFF-1").active is False
    assert trip_doc("OFF-1")["active"] is False
    client.logout()
    assert "OFF-1" not in client.get("/trips/").content.decode()
    assert "OFF-1" not in client.get("/trips/?q=glacier").content.decode()
    assert client.get("/trips/OFF-1/").status_code == 404
    client.force_login(catalogue_editor)
    assert client.get("/trips/OFF-1/").status_code == 200  # catalogue editors still see it
    assert client.post("/trips/staff/OFF-1/active/", {"active": "1"}).status_code == 302
    relay_sweep()
    client.logout()
    assert "OFF-1" in client.get("/trips/").content.decode()


def test_staff_trip_pages_are_404_for_travellers(client, traveller, make_trip) -> None:
    make_trip(code="SAFE-1")
    client.force_login(traveller)
    for url in ("/trips/staff/", "/trips/staff/new/", "/trips/staff/SAFE-1/edit/"):
        assert client.get(url).status_code == 404, url
    assert client.post("/trips/staff/SAFE-1/active/", {"active": "0"}).status_code == 404
    assert client.post("/trips/staff/new/", _form(code="HACK-1")).status_code == 404
    assert Trip.objects.get(code="SAFE-1").active is True and not Trip.objects.filter(code="HACK-1").exists()
    client.logout()
    assert client.get("/trips/staff/").status_code == 302


def test_staff_trip_list(client, catalogue_editor, make_trip) -> None:
    make_trip(code="LIST-1", name="Bali Surf")
    make_trip(code="LIST-2", name="Kyoto Temples")
    client.force_login(catalogue_editor)
    html = client.get("/trips/staff/?q=bali").content.decode()
    assert "LIST-1" in html and "LIST-2" not in html


def test_staff_trip_search_matches_part_of_a_code_a_name_or_a_resort(client, catalogue_editor, make_trip) -> None:
    """Issue 15: the search needed the full trip code."""
    make_trip(code="BALI-101", name="Bali Surf Camp", resort="Bali")
    make_trip(code="KYO-202", name="Kyoto Temples", resort="Kansai")
    client.force_login(catalogue_editor)

    def codes(q: str) -> set[str]:
        response = client.get("/trips/staff/", {"q": q})
        assert response.status_code == 200
        return set(re.findall(r'href="/trips/([A-Z0-9-]+)/">', response.content.decode()))

    assert codes("BALI-101") == {"BALI-101"}
    assert codes("bali-1") == {"BALI-101"}  # partial code, any case
    assert codes("202") == {"KYO-202"}
    assert codes("-") == {"BALI-101", "KYO-202"}
    assert codes("temp") == {"KYO-202"}  # part of a name
    assert codes("kansai") == {"KYO-202"}  # the resort
    assert codes("temples kyoto") == {"KYO-202"}  # every word, any order
    assert codes("kyoto bali") == set()
    assert codes("") == {"BALI-101", "KYO-202"}


def test_trip_code_is_read_only_on_edit_and_a_changed_code_is_refused(client, catalogue_editor, make_trip) -> None:
    """Issue 15: the help text said the code cannot change, but nothing said no to a new one."""
    trip = make_trip(code="KEEP-1", name="Keep me")
    client.force_login(catalogue_editor)
    page = client.get("/trips/staff/KEEP-1/edit/").content.decode()
    code_input = re.search(r"<input[^>]*name=\"code\"[^>]*>", page).group(0)
    assert 'value="KEEP-1"' in code_input and " readonly" in code_input and 'aria-readonly="true"' in code_input
    assert "The code of a trip cannot change." in page
    new_page = client.get("/trips/staff/new/").content.decode()
    assert " readonly" not in re.search(r"<input[^>]*name=\"code\"[^>]*>", new_page).group(0)

    refused = client.post("/trips/staff/KEEP-1/edit/", _form(code="OTHER-1", name="Renamed", image=None, version="1"))
    assert refused.status_code == 400 and "cannot change" in refused.content.decode()
    trip.refresh_from_db()
    assert trip.version == 1 and not Trip.objects.filter(code="OTHER-1").exists()
    assert TripListing.objects.get(code="KEEP-1").name == "Keep me"

    same = client.post("/trips/staff/KEEP-1/edit/", _form(code="KEEP-1", name="Renamed", image=None, version="1"))
    assert same.status_code == 302  # the trip's own code, as the read-only field sends it
    trip.refresh_from_db()
    assert trip.version == 2
