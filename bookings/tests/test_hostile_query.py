"""Hostile query parameters on the bookings pages answer 400 with a message or are clamped,
never 500 (issue 14, item 3; the whole site: audit/tests/test_hostile_params.py)."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

HUGE = "99999999999999999999999"


def test_a_nul_in_the_staff_trip_search_is_a_400_with_a_message(client: Client, catalogue_editor) -> None:
    client.force_login(catalogue_editor)
    response = client.get("/trips/staff/", {"q": "a\x00b"})
    assert response.status_code == 400
    assert "The “q” parameter contains a NUL character." in response.content.decode()


def test_an_over_long_staff_trip_search_is_a_400(client: Client, catalogue_editor) -> None:
    client.force_login(catalogue_editor)
    response = client.get("/trips/staff/", {"q": "x" * 101})
    assert response.status_code == 400 and "at most 100 characters" in response.content.decode()


def test_huge_page_numbers_are_clamped(client: Client, catalogue_editor, traveller, make_trip, book) -> None:
    trip = make_trip(code="CLAMP-1")
    book(traveller, trip)
    client.force_login(traveller)
    mine = client.get("/bookings/mine/", {"page": HUGE})
    assert mine.status_code == 200
    assert "CLAMP-1" not in mine.content.decode()  # a page far past the last one is empty
    assert client.get("/bookings/mine/", {"page": "-" + HUGE}).status_code == 200
    client.force_login(catalogue_editor)
    assert client.get("/trips/staff/", {"page": HUGE, "show": "\x00"}).status_code == 200
