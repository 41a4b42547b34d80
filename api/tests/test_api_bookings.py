"""The bookings resources: a trip's departures, a traveller's bookings (create with
Idempotency-Key, refund quote, cancel), the booking desk's (list, confirm, payment, cancel)
— what they answer, that the rules are the services' own, and the Idempotency-Key race."""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from typing import Any

import pytest
from django.db import connections
from rest_framework.test import APIClient

from accounts.redisutil import redis_client, rkey
from api.tests.conftest import bearer, trip_make
from bookings.models import Booking, Departure
from taskforge.dbcontext import context_for_system, db_context

PARALLEL = 6


def _book(api: APIClient, secret: str, trip: Any, *, key: str | None = None, **changes: Any):
    body = {
        "trip_code": trip.code,
        "travel_date": trip.start.isoformat(),
        "travellers": 2,
        "expected_total_minor": trip.price_minor * 2,
        **changes,
    }
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return api.post("/api/v1/bookings/", body, format="json", **bearer(secret), **headers)


def _seats_taken(trip: Any) -> int:
    with db_context(context_for_system("test")):
        return Departure.objects.get(trip=trip, date=trip.start).seats_taken


def _bookings_of(user: Any) -> int:
    with db_context(context_for_system("test")):
        return Booking.objects.filter(user=user).count()


@pytest.fixture
def trip(people) -> Any:
    return trip_make(people.catalogue_editor, "APB-1")


@pytest.mark.django_db
def test_departures_list_the_open_ones_with_seats_and_price(api, trip) -> None:
    response = api.get(f"/api/v1/trips/{trip.code}/departures/")
    assert response.status_code == 200, response.content
    [departure] = response.json()["results"]
    assert departure["date"] == trip.start.isoformat()
    assert departure["seats_left"] == 10 and departure["capacity"] == 10
    assert departure["unit_price_minor"] == 100_000 and departure["currency"] == "GBP"
    assert departure["bookable"] is True and departure["status"] == "open"
    assert response["ETag"]


@pytest.mark.django_db
def test_a_traveller_books_reads_quotes_and_cancels_their_own(api, people, token_for, trip) -> None:
    secret = token_for(people.traveller)
    created = _book(api, secret, trip, key="first-booking")
    assert created.status_code == 201, created.content
    booking = created.json()
    assert created["Location"] == f"/api/v1/bookings/{booking['id']}/"
    assert booking["status"] == "pending" and booking["total_minor"] == 200_000 and booking["travellers"] == 2
    assert booking["reference"] == f"B{booking['id']:06d}" and booking["trip_name"] == "Lakeside walks APB-1"
    assert "payment_reference" not in booking and "traveller_email" not in booking
    assert _seats_taken(trip) == 2

    listed = api.get("/api/v1/bookings/", **bearer(secret)).json()["results"]
    assert [row["id"] for row in listed] == [booking["id"]]
    assert api.get(f"/api/v1/bookings/{booking['id']}/", **bearer(secret)).json() == booking

    quote = api.get(f"/api/v1/bookings/{booking['id']}/refund-quote/", **bearer(secret))
    assert quote.status_code == 200
    assert quote.json() | {"days_before": None} == {
        "booking_id": booking["id"],
        "days_before": None,
        "percent": 100,
        "refund_minor": 200_000,
        "already_refunded_minor": 0,
        "currency": "GBP",
        "cancellable": True,
    }

    cancelled = api.post(f"/api/v1/bookings/{booking['id']}/cancel/", **bearer(secret))
    assert cancelled.status_code == 200, cancelled.content
    assert cancelled.json()["status"] == "cancelled" and cancelled.json()["refund_minor"] == 200_000
    assert _seats_taken(trip) == 0
    again = api.post(f"/api/v1/bookings/{booking['id']}/cancel/", **bearer(secret))
    assert again.status_code == 409 and again["Content-Type"] == "application/problem+json"
    assert api.get(f"/api/v1/bookings/{booking['id']}/refund-quote/", **bearer(secret)).status_code == 409


@pytest.mark.django_db
def test_another_traveller_neither_sees_nor_cancels_it(api, people, token_for, trip) -> None:
    booking = _book(api, token_for(people.traveller), trip).json()
    other = token_for(people.other_traveller)
    assert api.get("/api/v1/bookings/", **bearer(other)).json()["results"] == []
    for path in (f"/api/v1/bookings/{booking['id']}/", f"/api/v1/bookings/{booking['id']}/refund-quote/"):
        assert api.get(path, **bearer(other)).status_code == 404
    assert api.post(f"/api/v1/bookings/{booking['id']}/cancel/", **bearer(other)).status_code == 404
    assert _seats_taken(trip) == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "status", "field"),
    [
        ({"expected_total_minor": 199_999}, 400, "expected_total"),
        ({"travel_date": "2020-01-01"}, 400, "travel_date"),
        ({"travel_date": "not a date"}, 400, "travel_date"),
        ({"travellers": 0}, 400, "travellers"),
        ({"travellers": "two"}, 400, "travellers"),
        ({"travellers": 11, "expected_total_minor": 1_100_000}, 409, "travellers"),  # 10 seats
        ({"trip_code": "NO-SUCH"}, 404, None),
        ({"trip_code": "../../x"}, 400, "trip_code"),
    ],
)
def test_refused_bookings_say_why_and_book_nothing(api, people, token_for, trip, changes, status, field) -> None:
    response = _book(api, token_for(people.traveller), trip, **changes)
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    if field:
        assert field in {error["field"] for error in response.json()["errors"]}, response.json()
    assert _bookings_of(people.traveller) == 0 and _seats_taken(trip) == 0


@pytest.mark.django_db
def test_a_repeated_key_books_once_even_after_its_record_expired(api, people, token_for, trip) -> None:
    secret = token_for(people.traveller)
    first = _book(api, secret, trip, key="retry-me")
    replay = _book(api, secret, trip, key="retry-me")
    assert replay.status_code == 201 and replay["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()
    # The key's record is gone (24 h later): the database's key still refuses a second booking.
    digest = hashlib.sha256(b"retry-me").hexdigest()
    redis_client().delete(rkey(f"api:idem:u{people.traveller.pk}:{digest}"))
    late = _book(api, secret, trip, key="retry-me")
    assert late.status_code == 200 and late.json()["id"] == first.json()["id"]
    assert _bookings_of(people.traveller) == 1 and _seats_taken(trip) == 2
    # Without a key every POST is a new booking.
    assert _book(api, secret, trip).status_code == 201
    assert _bookings_of(people.traveller) == 2


@pytest.mark.django_db
def test_the_booking_desk_lists_confirms_records_payment_and_cancels(api, people, token_for, trip) -> None:
    booking = _book(api, token_for(people.traveller), trip).json()
    desk = token_for(people.booking_desk)
    listed = api.get("/api/v1/desk/bookings/?status=pending", **bearer(desk)).json()["results"]
    assert [row["id"] for row in listed] == [booking["id"]]
    assert listed[0]["traveller_email"] == people.traveller.email
    assert api.get("/api/v1/desk/bookings/?status=confirmed", **bearer(desk)).json()["results"] == []
    bad = api.get("/api/v1/desk/bookings/?status=lost", **bearer(desk))
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "status"

    base = f"/api/v1/desk/bookings/{booking['id']}"
    confirmed = api.post(f"{base}/confirm/", **bearer(desk))
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "confirmed"
    assert api.post(f"{base}/confirm/", **bearer(desk)).status_code == 409

    bad_ref = api.post(f"{base}/payment/", {"reference": "  "}, format="json", **bearer(desk))
    assert bad_ref.status_code == 400
    paid = api.post(f"{base}/payment/", {"reference": "PAY-7"}, format="json", **bearer(desk))
    assert paid.status_code == 200 and paid.json()["payment_reference"] == "PAY-7"
    assert paid.json()["payment_recorded"] is True

    # The desk does not cancel on the traveller's endpoint (403) and needs a reason on its own.
    assert api.post(f"/api/v1/bookings/{booking['id']}/cancel/", **bearer(desk)).status_code == 403
    assert api.post(f"{base}/cancel/", {}, format="json", **bearer(desk)).status_code == 400
    cancelled = api.post(f"{base}/cancel/", {"reason": "Hotel closed", "full_refund": True}, format="json",
                         **bearer(desk))  # fmt: skip
    assert cancelled.status_code == 200, cancelled.content
    assert cancelled.json()["cancel_reason"] == "Hotel closed" and cancelled.json()["refund_minor"] == 200_000
    assert _seats_taken(trip) == 0
    assert api.post(f"{base}/payment/", {"reference": "PAY-8"}, format="json", **bearer(desk)).status_code == 409


@pytest.mark.django_db
def test_the_desk_endpoints_do_not_exist_for_a_traveller(api, people, token_for, trip) -> None:
    secret = token_for(people.traveller)
    booking = _book(api, secret, trip).json()
    assert api.get("/api/v1/desk/bookings/", **bearer(secret)).status_code == 404
    for action, body in (("confirm", {}), ("payment", {"reference": "PAY-1"}), ("cancel", {"reason": "x"})):
        response = api.post(f"/api/v1/desk/bookings/{booking['id']}/{action}/", body, format="json", **bearer(secret))
        assert response.status_code == 404, action
    assert api.get(f"/api/v1/bookings/{booking['id']}/", **bearer(secret)).json()["status"] == "pending"


def test_parallel_bookings_with_one_idempotency_key_book_once(committed_db, settings) -> None:
    from accounts.services.api_tokens import api_token_create
    from taskforge.testing.personas import people_create

    settings.API_TOKEN_RATE = settings.API_IP_RATE = "100000/minute"
    people = people_create("apibookrace")
    trip = trip_make(people.catalogue_editor, "APB-RACE")
    with db_context(context_for_system("test")):
        secret = api_token_create(user=people.traveller, name="race", scope="read_write").secret
    key = str(uuid.uuid4())
    barrier = threading.Barrier(PARALLEL)
    answers: list[tuple[int, dict]] = []

    def post() -> None:
        try:
            barrier.wait(timeout=10)
            response = _book(APIClient(), secret, trip, key=key)
            answers.append((response.status_code, response.json()))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=post) for _ in range(PARALLEL)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(answers) == PARALLEL
    assert {status for status, _ in answers} <= {201, 409}, answers
    created = {body["id"] for status, body in answers if status == 201}
    assert len(created) == 1, answers
    assert _bookings_of(people.traveller) == 1
    assert _seats_taken(trip) == 2  # the seats were taken once
    time.sleep(0.1)
    replay = _book(APIClient(), secret, trip, key=key)
    assert replay.status_code == 201 and replay.json()["id"] in created


@pytest.mark.django_db
def test_without_a_date_the_next_open_departure_is_booked(api, people, token_for, trip) -> None:
    body = {"trip_code": trip.code.lower(), "travellers": 1, "expected_total_minor": trip.price_minor}
    response = api.post("/api/v1/bookings/", body, format="json", **bearer(token_for(people.traveller)))
    assert response.status_code == 201, response.content
    assert response.json()["travel_date"] == trip.start.isoformat() and response.json()["trip_code"] == trip.code
