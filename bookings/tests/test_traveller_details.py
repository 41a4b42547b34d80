"""Travellers' names and details on a booking: validated, editable by the owner and the
booking desk until BOOKING_TRAVELLER_EDIT_DAYS before departure."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from bookings import services
from bookings.models import BookingTraveller
from taskforge.errors import Conflict, NotFound, ServiceError
from taskforge.testing.personas import acting

pytestmark = pytest.mark.django_db

ADA = services.TravellerDetails(
    full_name="  Ada   Lovelace ", date_of_birth=dt.date(1990, 5, 1), passport_number="ab 123456"
)
BOB = services.TravellerDetails(full_name="Bob O'Neil-Smith", date_of_birth=dt.date(1985, 1, 2), notes="Vegetarian")


def _update(actor: Any, booking: Any, travellers: list[Any]) -> Any:
    with acting(actor):
        return services.booking_travellers_update(actor=actor, booking_id=booking.pk, travellers=travellers)


def _rows(user: Any, booking: Any) -> list[tuple[int, str, str]]:
    with acting(user):
        return list(
            BookingTraveller.objects.filter(booking=booking).values_list("position", "full_name", "passport_number")
        )


def test_owner_saves_and_changes_the_details(make_trip, book, traveller) -> None:
    booking = book(traveller, make_trip(), 2)
    _update(traveller, booking, [ADA, BOB])
    assert _rows(traveller, booking) == [(1, "Ada Lovelace", "AB123456"), (2, "Bob O'Neil-Smith", "")]
    _update(traveller, booking, [BOB, ADA])  # changed in place, one row per position
    assert _rows(traveller, booking) == [(1, "Bob O'Neil-Smith", ""), (2, "Ada Lovelace", "AB123456")]


@pytest.mark.parametrize(
    ("details", "message"),
    [
        (services.TravellerDetails(full_name="R2-D2", date_of_birth=dt.date(1990, 1, 1)), "Traveller 2: Enter the"),
        (services.TravellerDetails(full_name="A", date_of_birth=dt.date(1990, 1, 1)), "full name"),
        (services.TravellerDetails(full_name="Zoe Born", date_of_birth=dt.date(2999, 1, 1)), "date of birth"),
        (services.TravellerDetails(full_name="Old Man", date_of_birth=dt.date(1800, 1, 1)), "120 years"),
        (services.TravellerDetails(full_name="Pat Pass", date_of_birth=dt.date(1990, 1, 1), passport_number="x!"),
         "5 to 20"),
    ],
)  # fmt: skip
def test_details_are_validated_and_nothing_is_saved_on_a_refusal(make_trip, book, traveller, details, message) -> None:
    booking = book(traveller, make_trip(), 2)
    with pytest.raises(ServiceError, match=message):
        _update(traveller, booking, [ADA, details])
    assert _rows(traveller, booking) == []


def test_one_entry_per_traveller_booked(make_trip, book, traveller) -> None:
    booking = book(traveller, make_trip(), 2)
    with pytest.raises(ServiceError, match="all 2 travellers"):
        _update(traveller, booking, [ADA])


def test_the_booking_desk_may_edit_another_traveller_may_not(
    make_trip, book, traveller, other_traveller, booking_desk
) -> None:
    booking = book(traveller, make_trip(), 1)
    _update(booking_desk, booking, [ADA])
    assert _rows(traveller, booking) == [(1, "Ada Lovelace", "AB123456")]
    with pytest.raises(NotFound):
        _update(other_traveller, booking, [BOB])
    assert _rows(other_traveller, booking) == []  # RLS: not even visible
    assert _rows(traveller, booking) == [(1, "Ada Lovelace", "AB123456")]


def test_editable_until_the_deadline_then_refused(make_trip, book, traveller, settings) -> None:
    settings.BOOKING_TRAVELLER_EDIT_DAYS = 10
    today = timezone.localdate()
    on_deadline = book(traveller, make_trip(start=today + dt.timedelta(days=10)), 1)
    past_deadline = book(traveller, make_trip(start=today + dt.timedelta(days=9)), 1)
    _update(traveller, on_deadline, [ADA])
    with pytest.raises(Conflict, match="could be changed until"):
        _update(traveller, past_deadline, [ADA])
    assert _rows(traveller, past_deadline) == []


def test_the_form_shows_refusals_with_what_was_typed(client, make_trip, book, traveller, settings) -> None:
    booking = book(traveller, make_trip(), 2)
    client.force_login(traveller)
    page = client.get(f"/bookings/{booking.pk}/travellers/")
    assert page.status_code == 200 and "Traveller 2" in page.content.decode()
    data = {"t-TOTAL_FORMS": "2", "t-INITIAL_FORMS": "0", "t-MIN_NUM_FORMS": "2", "t-MAX_NUM_FORMS": "2"}
    data |= {"t-0-full_name": "Ada Lovelace", "t-0-date_of_birth": "1990-05-01"}
    data |= {"t-1-full_name": "R2-D2", "t-1-date_of_birth": "1990-05-01"}
    refused = client.post(f"/bookings/{booking.pk}/travellers/", data)
    text = refused.content.decode()
    assert refused.status_code == 400 and "Traveller 2: Enter the traveller" in text and 'value="R2-D2"' in text
    bad_date = client.post(f"/bookings/{booking.pk}/travellers/", data | {"t-1-date_of_birth": "yesterday"})
    assert bad_date.status_code == 400 and "Enter a valid date" in bad_date.content.decode()
    saved = client.post(f"/bookings/{booking.pk}/travellers/", data | {"t-1-full_name": "Charles Babbage"})
    assert saved.status_code == 302
    detail = client.get(f"/bookings/{booking.pk}/").content.decode()
    assert "Ada Lovelace" in detail and "Charles Babbage" in detail
    settings.BOOKING_TRAVELLER_EDIT_DAYS = 365
    late = client.post(f"/bookings/{booking.pk}/travellers/", data | {"t-1-full_name": "Someone Else"})
    assert late.status_code == 409 and "could be changed until" in late.content.decode()
    assert "can no longer be changed online" in client.get(f"/bookings/{booking.pk}/").content.decode()
