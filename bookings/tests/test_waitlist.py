"""The waiting list: join a full departure, offers to the first entries that fit when seats
free up (email + in-app, seats held at the price of the moment), accept books at that
price, decline/expiry pass the seats on; rounds are idempotent and survive a crash mid-way;
concurrent rounds and sales never hold or sell a seat twice."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from typing import Any

import pytest
from django.db import connections
from django.utils import timezone

from bookings import services
from bookings.models import Booking, Departure, WaitlistEntry, WaitlistStatus
from bookings.services import departures, waitlist
from bookings.tests.conftest import create_trip
from mail.models import EmailDelivery
from sync.models import OutboxEvent
from taskforge.dbcontext import DbContext, db_context
from taskforge.errors import Conflict, NotFound
from taskforge.testing.personas import acting, person_create

SYSTEM = DbContext(role="system", user_agent="test")


def _book(user, trip, travellers: int):
    with acting(user):
        return services.booking_create(
            actor=user,
            trip_code=trip.code,
            travel_date=trip.start,
            travellers=travellers,
            idempotency_key=uuid.uuid4(),
            expected_total_minor=trip.price_minor * travellers,
        )[0]


def _join(user, trip, travellers: int) -> WaitlistEntry:
    with acting(user):
        return waitlist.waitlist_join(actor=user, trip_code=trip.code, travel_date=trip.start, travellers=travellers)


def _entry(pk: int) -> WaitlistEntry:
    with db_context(SYSTEM):
        return WaitlistEntry.objects.get(pk=pk)


@pytest.fixture
def full(make_trip, make_user):
    """A 4-seat departure sold out to one traveller (a booking of 4)."""
    trip = make_trip(seats=4, price_minor=50_000, name="Lofoten Lights")
    holder = make_user("traveller")
    booking = _book(holder, trip, 4)
    return {"trip": trip, "holder": holder, "booking": booking}


@pytest.mark.django_db
def test_join_only_when_full_and_only_once(make_trip, make_user, full) -> None:
    roomy = make_trip(seats=4)
    person = make_user("traveller")
    with pytest.raises(Conflict, match="book it instead"):
        _join(person, roomy, 2)
    entry = _join(person, full["trip"], 2)
    assert entry.status == WaitlistStatus.WAITING
    with pytest.raises(Conflict, match="already on"):
        _join(person, full["trip"], 1)


@pytest.mark.django_db
def test_freed_seats_go_to_the_first_entries_that_fit(full, make_user, catalogue_editor, settings) -> None:
    settings.WAITLIST_OFFER_HOURS = 6
    big, small, later = make_user("traveller"), make_user("traveller"), make_user("traveller")
    e_big, e_small, e_later = _join(big, full["trip"], 3), _join(small, full["trip"], 2), _join(later, full["trip"], 1)
    with acting(full["holder"]):  # 2 of 4 travellers taken off: 2 seats free
        services.booking_reduce_travellers(actor=full["holder"], booking_id=full["booking"].pk, travellers=2)
    offered = waitlist.waitlist_offer_round(full["booking"].departure_id)
    assert offered == [e_small.pk]  # 3 do not fit; the next that fits gets the 2 seats
    departure = Departure.objects.get(pk=full["booking"].departure_id)
    assert (departure.seats_taken, departure.seats_held, departure.seats_left) == (2, 2, 0)
    offer = _entry(e_small.pk)
    assert offer.offer_unit_price_minor == 50_000
    assert dt.timedelta(hours=5, minutes=59) < offer.offer_expires_at - timezone.now() <= dt.timedelta(hours=6)
    assert waitlist.waitlist_offer_round(departure.pk) == []  # rerun: nothing new, nothing held twice
    delivery = EmailDelivery.objects.get(kind="waitlist_offer")
    assert delivery.recipient == small.email and "Lofoten Lights" in delivery.subject
    assert OutboxEvent.objects.filter(
        aggregate_type="notification", aggregate_id=f"waitlist-{e_small.pk}-offer"
    ).exists()
    # The held seats are not for sale to anyone else.
    with pytest.raises(Conflict, match="sold out"):
        _book(later, full["trip"], 1)
    assert _entry(e_big.pk).status == _entry(e_later.pk).status == WaitlistStatus.WAITING


@pytest.mark.django_db
def test_accepting_books_at_the_held_price(full, make_user, catalogue_editor) -> None:
    person = make_user("traveller")
    entry = _join(person, full["trip"], 2)
    with acting(full["holder"]):
        services.booking_cancel(actor=full["holder"], booking_id=full["booking"].pk)
    waitlist.waitlist_offer_round(full["booking"].departure_id)
    departure = Departure.objects.get(pk=full["booking"].departure_id)
    with acting(catalogue_editor):  # the price goes up after the offer
        departures.departure_update(
            actor=catalogue_editor, departure_id=departure.pk, seats=4, price_minor=90_000, status="open"
        )
    stranger = make_user("traveller")
    with acting(stranger), pytest.raises(NotFound):
        waitlist.waitlist_accept(actor=stranger, entry_id=entry.pk)
    with acting(person):
        booking = waitlist.waitlist_accept(actor=person, entry_id=entry.pk)
        again = waitlist.waitlist_accept(actor=person, entry_id=entry.pk)
    assert again.pk == booking.pk
    assert (booking.travellers, booking.unit_price_minor, booking.total_minor) == (2, 50_000, 100_000)
    departure.refresh_from_db()
    assert (departure.seats_taken, departure.seats_held) == (2, 0)
    assert _entry(entry.pk).status == WaitlistStatus.ACCEPTED


@pytest.mark.django_db
def test_an_offer_past_its_time_is_refused_before_the_sweep_runs(full, make_user) -> None:
    person = make_user("traveller")
    entry = _join(person, full["trip"], 2)
    with acting(full["holder"]):
        services.booking_cancel(actor=full["holder"], booking_id=full["booking"].pk)
    departure_id = full["booking"].departure_id
    assert waitlist.waitlist_offer_round(departure_id) == [entry.pk]
    with db_context(SYSTEM):  # the offer runs out; the sweep has not run yet
        WaitlistEntry.objects.filter(pk=entry.pk).update(offer_expires_at=timezone.now() - dt.timedelta(minutes=1))
    with acting(person), pytest.raises(Conflict, match="expired"):
        waitlist.waitlist_accept(actor=person, entry_id=entry.pk)
    assert not Booking.objects.filter(user=person).exists()
    departure = Departure.objects.get(pk=departure_id)
    assert (departure.seats_taken, departure.seats_held) == (0, 2)  # nothing sold; held until the sweep


@pytest.mark.django_db
def test_declined_and_expired_offers_pass_the_seats_on(full, make_user) -> None:
    first, second, third = make_user("traveller"), make_user("traveller"), make_user("traveller")
    e1, e2, e3 = (_join(u, full["trip"], 4) for u in (first, second, third))
    with acting(full["holder"]):
        services.booking_cancel(actor=full["holder"], booking_id=full["booking"].pk)
    departure_id = full["booking"].departure_id
    assert waitlist.waitlist_offer_round(departure_id) == [e1.pk]
    with acting(first):
        waitlist.waitlist_decline(actor=first, entry_id=e1.pk)
    assert waitlist.waitlist_offer_round(departure_id) == [e2.pk]
    with db_context(SYSTEM):  # the offer runs out
        WaitlistEntry.objects.filter(pk=e2.pk).update(offer_expires_at=timezone.now() - dt.timedelta(minutes=1))
    assert waitlist.waitlist_departures_due() == [departure_id]
    assert waitlist.waitlist_sweep.run() == 1
    assert [_entry(e.pk).status for e in (e1, e2, e3)] == ["declined", "expired", "offered"]
    with acting(second), pytest.raises(Conflict):
        waitlist.waitlist_accept(actor=second, entry_id=e2.pk)
    assert Departure.objects.get(pk=departure_id).seats_held == 4


@pytest.mark.django_db
def test_a_round_that_dies_mid_way_leaves_nothing_and_reruns(full, make_user, monkeypatch) -> None:
    """A worker killed while making offers: its transaction never commits (here: the second
    offer's notification blows up), so no seat stays held and no email is queued; the next
    round (the job redelivered, or the sweep) makes the same offers once."""
    people = [make_user("traveller") for _ in range(3)]
    entries = [_join(p, full["trip"], 1) for p in people]
    with acting(full["holder"]):
        services.booking_reduce_travellers(actor=full["holder"], booking_id=full["booking"].pk, travellers=1)
    departure_id = full["booking"].departure_id
    real = waitlist._offer_notify
    calls = {"n": 0}

    def dying(*args: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise SystemExit("worker killed")
        real(*args)

    monkeypatch.setattr(waitlist, "_offer_notify", dying)
    with pytest.raises(SystemExit):
        waitlist.waitlist_offer_round(departure_id)
    assert Departure.objects.get(pk=departure_id).seats_held == 0
    assert [_entry(e.pk).status for e in entries] == ["waiting"] * 3
    assert not EmailDelivery.objects.filter(kind="waitlist_offer").exists()
    monkeypatch.setattr(waitlist, "_offer_notify", real)
    assert waitlist.waitlist_departures_due() == [departure_id]
    assert waitlist.waitlist_offer_round(departure_id) == [e.pk for e in entries]
    assert waitlist.waitlist_offer_round(departure_id) == []
    assert EmailDelivery.objects.filter(kind="waitlist_offer").count() == 3
    assert Departure.objects.get(pk=departure_id).seats_held == 3


def test_concurrent_rounds_and_sales_never_hold_or_sell_a_seat_twice(committed_db) -> None:
    editor = person_create("catalogue_editor", f"ed-{uuid.uuid4().hex[:8]}@example.com", "correct-horse-battery")
    trip = create_trip(editor, seats=6, price_minor=10_000)
    users = [
        person_create("traveller", f"t{i}-{uuid.uuid4().hex[:8]}@example.com", "correct-horse-battery")
        for i in range(10)
    ]
    holder, waiting, buyers = users[0], users[1:6], users[6:]
    booking = _book(holder, trip, 6)
    entries = [_join(u, trip, 1) for u in waiting]
    with acting(holder):
        services.booking_reduce_travellers(actor=holder, booking_id=booking.pk, travellers=2)  # 4 seats free
    departure_id = booking.departure_id
    barrier = threading.Barrier(7)
    sold: list[int] = []
    lock = threading.Lock()

    def round_() -> None:
        try:
            barrier.wait(timeout=20)
            waitlist.waitlist_offer_round(departure_id)
        finally:
            connections.close_all()

    def buy(user: Any) -> None:
        try:
            with acting(user):
                barrier.wait(timeout=20)
                try:
                    booked = _book(user, trip, 1)
                    with lock:
                        sold.append(booked.pk)
                except Conflict:
                    pass
        finally:
            connections.close_all()

    threads = [threading.Thread(target=round_) for _ in range(3)]
    threads += [threading.Thread(target=buy, args=(u,)) for u in buyers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    departure = Departure.objects.get(pk=departure_id)
    with db_context(SYSTEM):
        offered = WaitlistEntry.objects.filter(pk__in=[e.pk for e in entries], status="offered")
        held = sum(offered.values_list("travellers", flat=True))
        live = Booking.objects.filter(departure_id=departure_id).exclude(status="cancelled")
        taken = sum(live.values_list("travellers", flat=True))
    assert departure.seats_held == held
    assert departure.seats_taken == taken == 2 + len(sold)
    assert held + len(sold) == 4  # every freed seat went once: to an offer or a sale
