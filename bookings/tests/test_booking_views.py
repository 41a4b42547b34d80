"""Booking pages: the traveller flow, bad input (4xx, a clear message, nothing booked) and staff pages."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest
from django.utils import timezone

from bookings import services
from bookings.models import Booking, BookingStatus, Departure
from sync.models import OutboxEvent
from taskforge.dbcontext import DbContext, db_context
from taskforge.testing.personas import acting

pytestmark = pytest.mark.django_db
ADMIN = DbContext(user_id="1", role="system")


def _count_bookings() -> int:
    with db_context(ADMIN):
        return Booking.objects.count()


def _post_book(client, trip, **overrides):
    data = {
        "travel_date": trip.start.isoformat(),
        "travellers": "2",
        "expected_total": str(trip.price_minor * 2),
        "idempotency_key": str(uuid.uuid4()),
        "step": "confirm",
    }
    data.update(overrides)
    data = {k: v for k, v in data.items() if v is not None}
    return client.post(f"/trips/{trip.code}/book/", data)


def test_traveller_books_reviews_price_then_confirms(client, make_trip, traveller) -> None:
    trip = make_trip(price_minor=250_00)
    client.force_login(traveller)
    page = client.get(f"/trips/{trip.code}/book/")
    assert page.status_code == 200
    key = re.search(rb'name="idempotency_key" value="([0-9a-f-]+)"', page.content).group(1).decode()
    review = client.post(
        f"/trips/{trip.code}/book/",
        {
            "travel_date": trip.start.isoformat(),
            "travellers": "3",
            "idempotency_key": key,
            "step": "review",
        },
    )
    assert review.status_code == 200
    assert "£750.00" in review.content.decode()
    assert b'name="expected_total" value="75000"' in review.content
    assert _count_bookings() == 0  # reviewing books nothing
    done = _post_book(client, trip, travellers="3", expected_total="75000", idempotency_key=key)
    assert done.status_code == 302
    with acting(traveller):
        booking = Booking.objects.get()
    assert done["Location"] == f"/bookings/{booking.pk}/"
    assert (booking.travellers, booking.total_minor, booking.user_id) == (3, 750_00, traveller.pk)
    mine = client.get("/bookings/mine/")
    assert mine.status_code == 200 and f"/bookings/{booking.pk}/" in mine.content.decode()


def test_double_submit_creates_one_booking(client, make_trip, traveller) -> None:
    trip = make_trip()
    client.force_login(traveller)
    key = str(uuid.uuid4())
    first = _post_book(client, trip, idempotency_key=key)
    second = _post_book(client, trip, idempotency_key=key)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert _count_bookings() == 1
    assert Departure.objects.get(trip=trip).seats_taken == 2


@pytest.mark.parametrize(
    ("travellers", "message"),
    [
        ("0", "At least one traveller is needed"),
        ("-3", "At least one traveller is needed"),
        ("500", "At most 12 travellers"),
        ("99999999999999999999999", "At most 12 travellers"),
        ("two", "whole number"),
        ("", "This field is required"),
    ],
)
def test_bad_traveller_numbers_get_a_form_error(client, make_trip, traveller, travellers, message) -> None:
    trip = make_trip()
    client.force_login(traveller)
    response = _post_book(client, trip, travellers=travellers)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert _count_bookings() == 0


def test_tampered_total_is_refused_with_a_clear_error(client, make_trip, traveller) -> None:
    trip = make_trip(price_minor=100_00)
    client.force_login(traveller)
    for total in ("1", "20001", "abc", None):
        response = _post_book(client, trip, expected_total=total)
        assert response.status_code == 400, total
        text = response.content.decode()
        assert "does not match the price" in text or "not valid" in text or "Review the price" in text, total
    assert _count_bookings() == 0


def test_unknown_inactive_and_past_trips(client, make_trip, traveller, catalogue_editor) -> None:
    client.force_login(traveller)
    assert client.post("/trips/NOPE-1/book/", {"travellers": "1"}).status_code == 404
    assert client.get("/trips/NOPE-1/").status_code == 404
    inactive = make_trip()
    with acting(catalogue_editor):
        services.trip_set_active(
            actor=catalogue_editor, trip_code=inactive.code, active=False, current_state={"name": "x", "resort": "y"}
        )
    response = _post_book(client, inactive)
    assert response.status_code == 409 and "no longer on sale" in response.content.decode()
    assert client.get(f"/trips/{inactive.code}/").status_code == 404  # off sale: hidden from travellers
    past = make_trip()
    type(past).objects.filter(pk=past.pk).update(start=timezone.localdate() - dt.timedelta(days=1))
    Departure.objects.filter(trip=past).update(date=timezone.localdate() - dt.timedelta(days=1))
    past.refresh_from_db()
    response = _post_book(client, past)
    assert response.status_code == 400 and "already left" in response.content.decode()
    other_date = make_trip()
    response = _post_book(client, other_date, travel_date=(other_date.start + dt.timedelta(days=3)).isoformat())
    assert response.status_code == 400 and "departure dates" in response.content.decode()
    response = _post_book(client, other_date, travel_date="not-a-date")
    assert response.status_code == 400
    assert _count_bookings() == 0


def test_sold_out_departure_answers_409(client, make_trip, traveller) -> None:
    trip = make_trip(seats=1)
    client.force_login(traveller)
    response = _post_book(client, trip)
    assert response.status_code == 409 and "Only 1 seat left" in response.content.decode()


def test_anyone_signed_in_books_for_themselves_and_anonymous_is_sent_to_sign_in(
    client, make_trip, booking_desk
) -> None:
    """Site capabilities are extra grants: a booking-desk person is still a traveller too."""
    trip = make_trip()
    anonymous = client.get(f"/trips/{trip.code}/book/")
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]
    assert _count_bookings() == 0
    client.force_login(booking_desk)
    response = _post_book(client, trip)
    assert response.status_code == 302
    assert _count_bookings() == 1


def test_quote_partial(client, make_trip) -> None:
    trip = make_trip(price_minor=99_50)
    ok = client.get(f"/trips/{trip.code}/quote/?travellers=2")
    assert ok.status_code == 200 and "£199.00" in ok.content.decode()
    bad = client.get(f"/trips/{trip.code}/quote/?travellers=zero")
    assert bad.status_code == 400 and "whole number" in bad.content.decode()
    assert client.get("/trips/NOPE/quote/?travellers=1").status_code == 404


def test_bookings_of_others_are_404(client, make_trip, book, traveller, other_traveller) -> None:
    trip = make_trip()
    theirs = book(other_traveller, trip, 1)
    client.force_login(traveller)
    for url in (f"/bookings/{theirs.pk}/", f"/bookings/{theirs.pk}/cancel/", f"/bookings/{theirs.pk}/reduce/"):
        assert client.get(url).status_code == 404, url
    assert client.post(f"/bookings/{theirs.pk}/cancel/").status_code == 404
    assert f"/bookings/{theirs.pk}/" not in client.get("/bookings/mine/").content.decode()
    with db_context(ADMIN):
        theirs.refresh_from_db()
    assert theirs.status == BookingStatus.PENDING


def test_cancel_shows_refund_before_confirming(client, make_trip, book, traveller) -> None:
    trip = make_trip(start=timezone.localdate() + dt.timedelta(days=10), price_minor=300_00)
    booking = book(traveller, trip, 2)
    client.force_login(traveller)
    page = client.get(f"/bookings/{booking.pk}/cancel/")
    assert page.status_code == 200
    assert "50%: £300.00" in page.content.decode()
    with acting(traveller):
        assert Booking.objects.get(pk=booking.pk).status == BookingStatus.PENDING  # GET changes nothing
    done = client.post(f"/bookings/{booking.pk}/cancel/")
    assert done.status_code == 302
    with acting(traveller):
        booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED and booking.refund_minor == 300_00
    again = client.post(f"/bookings/{booking.pk}/cancel/")
    assert again.status_code == 409 and "already cancelled" in again.content.decode()


def test_reduce_travellers_page(client, make_trip, book, traveller) -> None:
    trip = make_trip(price_minor=100_00)
    booking = book(traveller, trip, 3)
    client.force_login(traveller)
    assert client.get(f"/bookings/{booking.pk}/reduce/").status_code == 200
    assert client.post(f"/bookings/{booking.pk}/reduce/", {"travellers": "3"}).status_code == 400
    assert client.post(f"/bookings/{booking.pk}/reduce/", {"travellers": "x"}).status_code == 400
    assert client.get(f"/bookings/{booking.pk}/reduce/", {"travellers": "x"}).status_code == 400
    assert client.get(f"/bookings/{booking.pk}/reduce/", {"travellers": "9" * 30}).status_code == 400
    # The one-step form of old leads to the refund quote; nothing changes yet.
    first = client.post(f"/bookings/{booking.pk}/reduce/", {"travellers": "1"})
    assert first.status_code == 302 and first["Location"] == f"/bookings/{booking.pk}/reduce/?travellers=1"
    assert Departure.objects.get(trip=trip).seats_taken == 3
    confirm = {"travellers": "1", "expected_refund": "20000", "step": "confirm"}
    assert client.post(f"/bookings/{booking.pk}/reduce/", confirm).status_code == 302
    detail = client.get(f"/bookings/{booking.pk}/").content.decode()
    assert "2 taken off" in detail and "£200.00" in detail  # refunded in full, 60 days out
    assert Departure.objects.get(trip=trip).seats_taken == 1


def test_reduce_shows_the_refund_before_confirming(client, make_trip, book, traveller) -> None:
    """Issue 14, finding 1, through the pages: 10 travellers 3 days out, reduced to 1."""
    trip = make_trip(price_minor=100_00, seats=12, start=timezone.localdate() + dt.timedelta(days=3))
    booking = book(traveller, trip, 10)
    client.force_login(traveller)
    page = client.get(f"/bookings/{booking.pk}/reduce/", {"travellers": "1"})
    assert page.status_code == 200
    text = re.sub(r"\s+", " ", page.content.decode())
    assert "0%: £0.00" in text and "£900.00</strong> of their price is kept" in text
    assert 'name="expected_refund" value="0"' in text
    with acting(traveller):
        assert Booking.objects.get(pk=booking.pk).travellers == 10  # GET changes nothing
    # htmx asks for the fragment while the number is typed
    fragment = client.get(f"/bookings/{booking.pk}/reduce/", {"travellers": "4"}, HTTP_HX_REQUEST="true")
    assert fragment.status_code == 200 and "<html" not in fragment.content.decode()
    assert "£600.00" in fragment.content.decode()
    refused = client.get(f"/bookings/{booking.pk}/reduce/", {"travellers": "10"}, HTTP_HX_REQUEST="true")
    assert refused.status_code == 200 and "fewer than the current 10" in refused.content.decode()
    # Confirming with a refund other than the policy's is refused with the current terms.
    stale = client.post(
        f"/bookings/{booking.pk}/reduce/", {"travellers": "1", "expected_refund": "90000", "step": "confirm"}
    )
    assert stale.status_code == 409 and "not what you were shown" in stale.content.decode()
    assert 'name="expected_refund" value="0"' in stale.content.decode()
    missing = client.post(f"/bookings/{booking.pk}/reduce/", {"travellers": "1", "step": "confirm"})
    assert missing.status_code == 400 and "Review the refund" in missing.content.decode()
    done = client.post(
        f"/bookings/{booking.pk}/reduce/", {"travellers": "1", "expected_refund": "0", "step": "confirm"}
    )
    assert done.status_code == 302
    with acting(traveller):
        booking.refresh_from_db()
    assert (booking.travellers, booking.total_minor, booking.refund_minor) == (1, 1000_00, 0)
    assert Departure.objects.get(trip=trip).seats_taken == 1
    detail = re.sub(r"\s+", " ", client.get(f"/bookings/{booking.pk}/").content.decode())
    assert 'id="booking-net">£1,000.00' in detail
    mine = client.get("/bookings/mine/").content.decode()
    assert "£1,000.00" in mine


def test_staff_pages_are_404_for_travellers(client, make_trip, book, traveller) -> None:
    trip = make_trip()
    booking = book(traveller, trip, 1)
    client.force_login(traveller)
    assert client.get("/bookings/staff/").status_code == 404
    assert client.post(f"/bookings/{booking.pk}/confirm/").status_code == 404
    assert (
        client.post(
            f"/bookings/{booking.pk}/payment/", {"amount": "1.00", "method": "card", "reference": "X1"}
        ).status_code
        == 404
    )
    assert client.post(f"/bookings/{booking.pk}/staff-cancel/", {"reason": "x"}).status_code == 404
    with db_context(ADMIN):
        booking.refresh_from_db()
    assert booking.status == BookingStatus.PENDING and booking.payment_reference == ""


def test_staff_list_filters_and_actions(
    client,
    make_trip,
    book,
    traveller,
    other_traveller,
    booking_desk,
    django_capture_on_commit_callbacks,
) -> None:
    soon = make_trip(name="Kyoto Food Trail", start=timezone.localdate() + dt.timedelta(days=20))
    later = make_trip(name="Lapland Huskies", start=timezone.localdate() + dt.timedelta(days=90))
    a = book(traveller, soon, 1)
    b = book(other_traveller, later, 2)
    client.force_login(booking_desk)
    everything = client.get("/bookings/staff/").content.decode()
    assert traveller.email in everything and other_traveller.email in everything
    by_trip = client.get(f"/bookings/staff/?trip={later.code}").content.decode()
    assert f"/bookings/{b.pk}/" in by_trip and f"/bookings/{a.pk}/" not in by_trip
    local_part = traveller.email.split("@")[0].upper()  # case-insensitive match on part of the email
    by_email = client.get(f"/bookings/staff/?traveller={local_part}").content.decode()
    assert f"/bookings/{a.pk}/" in by_email and f"/bookings/{b.pk}/" not in by_email
    to = (timezone.localdate() + dt.timedelta(days=30)).isoformat()
    by_date = client.get(f"/bookings/staff/?travel_to={to}").content.decode()
    assert f"/bookings/{a.pk}/" in by_date and f"/bookings/{b.pk}/" not in by_date
    assert client.get("/bookings/staff/?travel_from=yesterday").status_code == 400
    with django_capture_on_commit_callbacks() as callbacks:
        assert client.post(f"/bookings/{a.pk}/confirm/").status_code == 302
    # The confirmation email job, and the fast path of the booking.confirmed webhook event.
    assert len(callbacks) == 2
    assert OutboxEvent.objects.filter(aggregate_type="webhook", event_type="booking.confirmed").count() == 1
    assert client.get("/bookings/staff/?status=confirmed").content.decode().count('data-booking="') == 1
    assert client.post(f"/bookings/{a.pk}/confirm/").status_code == 409
    pay = {"amount": "10.00", "method": "bank_transfer"}
    assert client.post(f"/bookings/{a.pk}/payment/", {**pay, "reference": "<bad>"}).status_code == 400
    assert client.post(f"/bookings/{a.pk}/payment/", {**pay, "reference": "PAY-7781"}).status_code == 302
    assert client.post(f"/bookings/{b.pk}/staff-cancel/", {"reason": ""}).status_code == 400
    assert (
        client.post(f"/bookings/{b.pk}/staff-cancel/", {"reason": "Flight cancelled", "full_refund": "on"}).status_code
        == 302
    )
    with acting(booking_desk):
        a.refresh_from_db()
        b.refresh_from_db()
    assert (a.status, a.payment_reference) == (BookingStatus.CONFIRMED, "PAY-7781")
    assert (b.status, b.refund_minor, b.cancel_reason) == (BookingStatus.CANCELLED, b.total_minor, "Flight cancelled")
    assert Departure.objects.get(trip=later).seats_taken == 0


def test_staff_refusals_come_back_on_the_form_with_what_was_typed(
    client, make_trip, book, traveller, booking_desk
) -> None:
    booking = book(traveller, make_trip(), 1)
    client.force_login(booking_desk)
    bad = client.post(f"/bookings/{booking.pk}/payment/", {"amount": "5", "method": "card", "reference": "<bad>"})
    text = bad.content.decode()
    assert bad.status_code == 400 and "Enter a payment reference" in text and 'value="&lt;bad&gt;"' in text
    empty = client.post(f"/bookings/{booking.pk}/staff-cancel/", {"reason": "  "})
    assert empty.status_code == 400 and "Give a reason for the cancellation." in empty.content.decode()
    long = client.post(f"/bookings/{booking.pk}/staff-cancel/", {"reason": "x" * 501})
    assert long.status_code == 400 and "Keep the reason under 500 characters." in long.content.decode()
    done = client.post(f"/bookings/{booking.pk}/staff-cancel/", {"reason": "Storm", "full_refund": "on"})
    assert done.status_code == 302
    # Cancelled meanwhile: the staff actions are gone, the refusal is shown on top.
    again = client.post(f"/bookings/{booking.pk}/staff-cancel/", {"reason": "Twice"})
    assert again.status_code == 409 and "already cancelled" in again.content.decode()
    paid = client.post(f"/bookings/{booking.pk}/payment/", {"amount": "5", "method": "card", "reference": "<bad>"})
    assert paid.status_code == 400 and "Enter a payment reference" in paid.content.decode()
    confirm = client.post(f"/bookings/{booking.pk}/confirm/")
    assert confirm.status_code == 409 and "Only pending bookings" in confirm.content.decode()


def test_the_booking_page_of_a_trip_off_sale_says_so(client, make_trip, traveller, catalogue_editor) -> None:
    trip = make_trip()
    with acting(catalogue_editor):
        services.trip_set_active(
            actor=catalogue_editor, trip_code=trip.code, active=False, current_state={"name": "x", "resort": "y"}
        )
    client.force_login(traveller)
    page = client.get(f"/trips/{trip.code}/book/")
    assert page.status_code == 409 and "no longer on sale" in page.content.decode()
