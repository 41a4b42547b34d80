"""A trip's departures: catalogue editors manage them (and no one else), bookings take seats
per departure at its price, the trip page and the catalogue show and filter them, and a
cancelled departure's travellers are told and choose a full refund or a move."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.core import mail
from django.utils import timezone

from bookings import services
from bookings.jobs import departure_cancelled_send
from bookings.models import Booking, BookingStatus, Departure, DepartureStatus
from bookings.selectors import CatalogueFilters, catalogue_page
from bookings.services import departures as dep
from mail.delivery import delivery_send
from mail.models import EmailDelivery
from sync.models import OutboxEvent
from taskforge.errors import Conflict, NotFound, ServiceError
from taskforge.testing.personas import acting

pytestmark = pytest.mark.django_db


def _day(n: int) -> dt.date:
    return timezone.localdate() + dt.timedelta(days=n)


def _add(editor, trip, days: int, seats: int = 10, price_minor: int | None = None) -> Departure:
    with acting(editor):
        return dep.departure_add(
            actor=editor, trip_code=trip.code, date=_day(days), seats=seats, price_minor=price_minor
        )


def _book(user, trip, date: dt.date, travellers: int, unit: int):
    with acting(user):
        return services.booking_create(
            actor=user,
            trip_code=trip.code,
            travel_date=date,
            travellers=travellers,
            idempotency_key=uuid.uuid4(),
            expected_total_minor=unit * travellers,
        )[0]


# --- managing departures: catalogue editors only ----------------------------------------------


def test_catalogue_editor_adds_and_changes_a_departure(make_trip, catalogue_editor) -> None:
    trip = make_trip(price_minor=100_000)
    second = _add(catalogue_editor, trip, 90, seats=4, price_minor=120_000)
    assert (second.capacity, second.price_minor, second.status) == (4, 120_000, "open")
    with acting(catalogue_editor):
        changed = dep.departure_update(
            actor=catalogue_editor, departure_id=second.pk, seats=6, price_minor=None, status="closed"
        )
    assert (changed.capacity, changed.price_minor, changed.status) == (6, None, "closed")
    with acting(catalogue_editor), pytest.raises(ServiceError) as same_date:
        dep.departure_add(actor=catalogue_editor, trip_code=trip.code, date=second.date, seats=3)
    assert same_date.value.field == "date"


def test_a_departure_is_not_added_in_the_past_nor_cancelled_by_an_edit(make_trip, catalogue_editor) -> None:
    trip = make_trip()
    departure = Departure.objects.get(trip=trip)
    with acting(catalogue_editor):
        for date, status in ((_day(0), "open"), (_day(-3), "open"), (_day(90), "cancelled")):
            with pytest.raises(ServiceError) as refused:
                dep.departure_add(actor=catalogue_editor, trip_code=trip.code, date=date, seats=3, status=status)
            assert refused.value.field in ("date", "status")
        # cancelling has its own flow (travellers told, refund or move offered): not an edit
        with pytest.raises(ServiceError) as refused:
            dep.departure_update(
                actor=catalogue_editor, departure_id=departure.pk, seats=3, price_minor=None, status="cancelled"
            )
        assert refused.value.field == "status"
    assert list(Departure.objects.filter(trip=trip).values_list("status", flat=True)) == ["open"]


@pytest.mark.parametrize("kind", ["booking_desk", "traveller"])
def test_others_cannot_add_or_change_departures(make_trip, make_user, kind) -> None:
    trip = make_trip()
    person = make_user(kind)
    departure = Departure.objects.get(trip=trip)
    with acting(person), pytest.raises(NotFound):
        dep.departure_add(actor=person, trip_code=trip.code, date=_day(90), seats=3)
    with acting(person), pytest.raises(NotFound):
        dep.departure_update(actor=person, departure_id=departure.pk, seats=3, price_minor=None, status="open")
    assert Departure.objects.filter(trip=trip).count() == 1


def test_seats_never_go_below_the_seats_booked(make_trip, catalogue_editor, traveller) -> None:
    trip = make_trip(seats=10)
    departure = Departure.objects.get(trip=trip)
    _book(traveller, trip, trip.start, 3, trip.price_minor)
    with acting(catalogue_editor), pytest.raises(ServiceError) as refused:
        dep.departure_update(
            actor=catalogue_editor, departure_id=departure.pk, seats=2, price_minor=None, status="open"
        )
    assert refused.value.field == "seats" and "3 seats are already booked" in refused.value.message


def test_staff_departure_pages_from_each_side(client, make_trip, catalogue_editor, booking_desk, traveller) -> None:
    trip = make_trip()
    url = f"/trips/staff/{trip.code}/departures/"
    client.force_login(traveller)
    assert client.get(url).status_code == 404
    client.force_login(booking_desk)
    assert client.get(url).status_code == 200
    refused = client.post(url, {"date": _day(90).isoformat(), "seats": "5", "status": "open"})
    assert refused.status_code == 403
    client.force_login(catalogue_editor)
    page = client.get(url)
    assert page.status_code == 200 and trip.start.strftime("%d %b %Y").lstrip("0") in page.content.decode()
    added = client.post(url, {"date": _day(90).isoformat(), "seats": "5", "price": "1250.50", "status": "open"})
    assert added.status_code == 302
    new = Departure.objects.get(trip=trip, date=_day(90))
    assert (new.capacity, new.price_minor) == (5, 125_050)
    bad = client.post(url, {"date": "not a date", "seats": "0", "status": "open"})
    assert bad.status_code == 400 and b"errorlist" in bad.content
    edit = client.post(
        f"/trips/staff/departures/{new.pk}/edit/", {f"d{new.pk}-seats": "7", f"d{new.pk}-status": "closed"}
    )
    assert edit.status_code == 302
    new.refresh_from_db()
    assert (new.capacity, new.price_minor, new.status) == (7, None, "closed")


# --- booking a departure -------------------------------------------------------------------------


def test_a_booking_takes_seats_on_its_departure_at_its_price(make_trip, catalogue_editor, traveller) -> None:
    trip = make_trip(price_minor=100_000, seats=10)
    later = _add(catalogue_editor, trip, 120, seats=3, price_minor=150_000)
    quote = services.booking_quote(trip_code=trip.code, travel_date=later.date, travellers=2)
    assert (quote.unit_price_minor, quote.total_minor, quote.seats_left) == (150_000, 300_000, 3)
    booking = _book(traveller, trip, later.date, 2, 150_000)
    assert (booking.departure_id, booking.travel_date, booking.unit_price_minor) == (later.pk, later.date, 150_000)
    later.refresh_from_db()
    assert later.seats_taken == 2
    assert Departure.objects.get(trip=trip, date=trip.start).seats_taken == 0
    with pytest.raises(Conflict) as full:
        _book(traveller, trip, later.date, 2, 150_000)
    assert "Only 1 seat left" in full.value.message


def test_closed_and_cancelled_departures_cannot_be_booked(make_trip, catalogue_editor, traveller) -> None:
    trip = make_trip()
    later = _add(catalogue_editor, trip, 120)
    with acting(catalogue_editor):
        dep.departure_update(actor=catalogue_editor, departure_id=later.pk, seats=10, price_minor=None, status="closed")
    with pytest.raises(ServiceError, match="closed"):
        _book(traveller, trip, later.date, 1, trip.price_minor)
    with acting(catalogue_editor):
        dep.departure_cancel(actor=catalogue_editor, departure_id=later.pk, reason="Hotel closed")
    with pytest.raises(ServiceError, match="cancelled"):
        _book(traveller, trip, later.date, 1, trip.price_minor)


def test_trip_page_lists_departures_with_seats_left_and_the_form_offers_them(
    client, make_trip, catalogue_editor, traveller
) -> None:
    trip = make_trip(seats=10)
    later = _add(catalogue_editor, trip, 120, seats=4, price_minor=175_000)
    closed = _add(catalogue_editor, trip, 150)
    with acting(catalogue_editor):
        dep.departure_update(
            actor=catalogue_editor, departure_id=closed.pk, seats=10, price_minor=None, status="closed"
        )
    _book(traveller, trip, later.date, 3, 175_000)
    page = client.get(f"/trips/{trip.code}/").content.decode()
    assert f'data-departure="{trip.start.isoformat()}"' in page
    assert f'data-departure="{later.date.isoformat()}"' in page
    assert f'data-departure="{closed.date.isoformat()}"' not in page
    row = page.split(f'data-departure="{later.date.isoformat()}"')[1].split("</tr>")[0]
    assert "£1,750.00" in row and "<td>1</td>" in row
    client.force_login(traveller)
    form = client.get(f"/trips/{trip.code}/book/?date={later.date.isoformat()}").content.decode()
    assert f'<option value="{later.date.isoformat()}" selected>' in form
    assert closed.date.isoformat() not in form
    quote = client.get(f"/trips/{trip.code}/quote/?travellers=1&travel_date={later.date.isoformat()}")
    assert quote.status_code == 200 and "£1,750.00" in quote.content.decode()
    bad = client.get(f"/trips/{trip.code}/quote/?travellers=1&travel_date=31-02-2020")
    assert bad.status_code == 400


def test_catalogue_filters_by_departure_date(make_trip, catalogue_editor) -> None:
    early = make_trip(start=_day(30), name="Early bird")
    both = make_trip(start=_day(30), name="Twice a year")
    _add(catalogue_editor, both, 200)
    codes = lambda f: {item.code for item in catalogue_page(f).items}  # noqa: E731
    assert codes(CatalogueFilters(start_from=_day(190), start_to=_day(210))) == {both.code}
    assert codes(CatalogueFilters(start_from=_day(20), start_to=_day(40))) == {early.code, both.code}
    assert codes(CatalogueFilters(q="twice", start_from=_day(190))) == {both.code}
    late = Departure.objects.get(trip=both, date=_day(200))
    with acting(catalogue_editor):
        dep.departure_cancel(actor=catalogue_editor, departure_id=late.pk, reason="No guide")
    assert codes(CatalogueFilters(start_from=_day(190), start_to=_day(210))) == set()


# --- cancelling a departure --------------------------------------------------------------------


@pytest.fixture
def cancelled(make_trip, catalogue_editor, traveller, other_traveller):
    """A trip with two departures; the first (2 + 1 travellers booked) cancelled by the editor."""
    trip = make_trip(name="Atlas Trek", price_minor=80_000, seats=10)
    other = _add(catalogue_editor, trip, 120, seats=3)
    mine = _book(traveller, trip, trip.start, 2, 80_000)
    theirs = _book(other_traveller, trip, trip.start, 1, 80_000)
    first = Departure.objects.get(trip=trip, date=trip.start)
    with acting(catalogue_editor):
        dep.departure_cancel(actor=catalogue_editor, departure_id=first.pk, reason="Flooded trail")
    return {"trip": trip, "first": first, "other": other, "mine": mine, "theirs": theirs}


def test_cancelling_a_departure_is_for_editors_and_the_desk(make_trip, make_user) -> None:
    trip = make_trip()
    departure = Departure.objects.get(trip=trip)
    traveller = make_user("traveller")
    with acting(traveller), pytest.raises(NotFound):
        dep.departure_cancel(actor=traveller, departure_id=departure.pk, reason="Mine")
    desk = make_user("booking_desk")
    with acting(desk), pytest.raises(ServiceError) as no_reason:
        dep.departure_cancel(actor=desk, departure_id=departure.pk, reason="  ")
    assert no_reason.value.field == "reason"
    with acting(desk):
        dep.departure_cancel(actor=desk, departure_id=departure.pk, reason="Strike")
    departure.refresh_from_db()
    assert departure.status == DepartureStatus.CANCELLED and departure.cancel_reason == "Strike"
    with acting(desk), pytest.raises(Conflict):
        dep.departure_cancel(actor=desk, departure_id=departure.pk, reason="Again")


def test_travellers_are_told_by_email_and_in_app_once(cancelled, traveller, other_traveller) -> None:
    assert departure_cancelled_send(cancelled["first"].pk) == 2
    assert departure_cancelled_send(cancelled["first"].pk) == 2  # a rerun queues nothing new
    deliveries = EmailDelivery.objects.filter(kind="departure_cancelled").order_by("recipient")
    assert sorted(d.recipient for d in deliveries) == sorted([traveller.email, other_traveller.email])
    notices = OutboxEvent.objects.filter(aggregate_type="notification", payload__kind="departure_cancelled")
    assert {e.aggregate_id for e in notices} == {
        f"booking-{cancelled['mine'].pk}-departure-cancelled",
        f"booking-{cancelled['theirs'].pk}-departure-cancelled",
    }
    mine = deliveries.get(recipient=traveller.email)
    assert "Atlas Trek" in mine.subject and "cancelled" in mine.subject.lower()
    mail.outbox.clear()
    delivery_send(mine.pk)
    body = mail.outbox[0].body
    assert "Flooded trail" in body and "full refund of £1,600.00" in body
    assert f"/bookings/{cancelled['mine'].pk}/" in body


def test_traveller_takes_the_full_refund(cancelled, traveller, other_traveller, client) -> None:
    booking = cancelled["mine"]
    client.force_login(other_traveller)
    assert client.post(f"/bookings/{booking.pk}/departure-refund/").status_code == 404
    client.force_login(traveller)
    page = client.get(f"/bookings/{booking.pk}/").content.decode()
    assert 'id="departure-choice"' in page and cancelled["other"].date.strftime("%d %b %Y") in page
    assert client.post(f"/bookings/{booking.pk}/departure-refund/").status_code == 302
    with acting(traveller):
        booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED and booking.refund_minor == booking.total_minor == 160_000
    assert client.post(f"/bookings/{booking.pk}/departure-refund/").status_code == 409


def test_traveller_moves_to_another_departure_with_room(cancelled, traveller, other_traveller, client) -> None:
    booking, other = cancelled["mine"], cancelled["other"]
    client.force_login(traveller)
    assert client.post(f"/bookings/{booking.pk}/departure-move/", {"departure": "999999"}).status_code == 400
    assert client.post(f"/bookings/{booking.pk}/departure-move/", {"departure": str(other.pk)}).status_code == 302
    with acting(traveller):
        booking.refresh_from_db()
    assert (booking.departure_id, booking.travel_date, booking.unit_price_minor) == (other.pk, other.date, 80_000)
    assert booking.status == BookingStatus.PENDING
    other.refresh_from_db()
    assert other.seats_taken == 2
    assert Departure.objects.get(pk=cancelled["first"].pk).seats_taken == 1
    # The other traveller (1 seat) still fits; a booking not on a cancelled departure has no choice.
    with acting(traveller), pytest.raises(Conflict):
        dep.booking_departure_move(actor=traveller, booking_id=booking.pk, departure_id=cancelled["first"].pk)


def test_a_move_needs_room_and_the_same_trip(cancelled, make_trip, catalogue_editor, traveller, other_traveller):
    booking, other = cancelled["mine"], cancelled["other"]
    _book(other_traveller, cancelled["trip"], other.date, 2, 80_000)  # 1 seat left, 2 needed
    with acting(traveller), pytest.raises(Conflict) as full:
        dep.booking_departure_move(actor=traveller, booking_id=booking.pk, departure_id=other.pk)
    assert full.value.field == "departure"
    elsewhere = Departure.objects.get(trip=make_trip())
    with acting(traveller), pytest.raises(ServiceError, match="this trip"):
        dep.booking_departure_move(actor=traveller, booking_id=booking.pk, departure_id=elsewhere.pk)
    with acting(other_traveller), pytest.raises(NotFound):
        dep.booking_departure_move(actor=other_traveller, booking_id=booking.pk, departure_id=other.pk)
    with acting(traveller):
        booking.refresh_from_db()
    assert booking.departure_id == cancelled["first"].pk
    assert Booking.objects.filter(pk=booking.pk).exists() is False  # RLS: no context sees nothing
