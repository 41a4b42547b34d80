"""The booking lifecycle's emails and their content: "booking received", the confirmation
with the departure's .ics file, and the reminder sent once per booking by the beat job."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from typing import Any

import pytest
from celery import current_app
from django.core import mail as django_mail
from django.db import connections
from django.utils import timezone

from bookings import services
from bookings.calendar import departure_ics, ics_text
from bookings.jobs import booking_confirmed
from bookings.lifecycle_emails import booking_reminders_send
from bookings.models import Booking
from bookings.tests.conftest import create_trip
from mail.delivery import delivery_send
from mail.models import EmailDelivery
from sync.relay import relay_sweep
from taskforge.schedule import beat_schedule
from taskforge.testing.personas import acting, person_create

DETAILS = services.TravellerDetails(full_name="Ada Lovelace", date_of_birth=dt.date(1990, 5, 1))


def _sent(kind: str, recipient: str) -> Any:
    """Send the one delivery of `kind` to `recipient` and return the email as sent."""
    delivery = EmailDelivery.objects.get(kind=kind, recipient=recipient)
    django_mail.outbox.clear()
    assert delivery_send(delivery.pk).status == "sent"
    (message,) = django_mail.outbox
    return message


def _html(message: Any) -> str:
    return next(content for content, mimetype in message.alternatives if mimetype == "text/html")


@pytest.mark.django_db
def test_booking_received_email_has_the_summary_and_what_happens_next(make_trip, traveller, settings) -> None:
    settings.BOOKING_TRAVELLER_EDIT_DAYS = 14
    start = timezone.localdate() + dt.timedelta(days=60)
    trip = make_trip(name="Douro Valley Wine", price_minor=450_00, start=start)
    with acting(traveller):
        booking, _ = services.booking_create(
            actor=traveller, trip_code=trip.code, travel_date=start, travellers=2,
            idempotency_key=uuid.uuid4(), expected_total_minor=900_00,
        )  # fmt: skip
    # Queued in the booking's own transaction: one delivery, before any job has run.
    assert EmailDelivery.objects.filter(kind="booking_received").count() == 1
    message = _sent("booking_received", traveller.email)
    reference = f"B{booking.pk:06d}"
    assert message.subject == f"Booking received: Douro Valley Wine ({reference})"
    body = message.body
    deadline = start - dt.timedelta(days=14)
    for expected in (
        f"We have received your booking {reference} for Douro Valley Wine on {start:%A} {start.day} {start:%B %Y}",
        "Travellers: 2",
        "Total: £900.00",
        "What happens next",
        "confirmation email with a calendar file",
        f"each of the 2 travellers as on their passport by {deadline:%A} {deadline.day} {deadline:%B %Y}",
        f"{settings.SITE_URL.rstrip('/')}/bookings/{booking.pk}/travellers/",
        "Pay the balance of £900.00",
        "100% refund 30 or more days before departure; 50% refund 7 or more days before departure",
        f"See your booking: {settings.SITE_URL.rstrip('/')}/bookings/{booking.pk}/",
    ):
        assert expected in body, expected
    html = _html(message)
    assert "What happens next" in html and "Douro Valley Wine" in html and "£900.00" in html
    assert message.attachments == []


@pytest.mark.django_db
def test_confirmation_email_carries_the_departure_calendar_file(make_trip, book, traveller, booking_desk) -> None:
    start = timezone.localdate() + dt.timedelta(days=40)
    trip = make_trip(
        name="Cinque Terre, Walks; Views", resort="Liguria", start=start, length_days=5, price_minor=300_00
    )
    booking = book(traveller, trip, 1)
    with acting(traveller):
        services.booking_travellers_update(actor=traveller, booking_id=booking.pk, travellers=[DETAILS])
    with acting(booking_desk):
        services.booking_confirm(actor=booking_desk, booking_id=booking.pk)
        assert booking_confirmed.run(booking.pk) == "queued"
        assert booking_confirmed.run(booking.pk) == "queued"  # a redelivered job queues nothing new
    assert EmailDelivery.objects.filter(kind="booking_confirmed").count() == 1
    message = _sent("booking_confirmed", traveller.email)
    reference = f"B{booking.pk:06d}"
    assert message.subject == f"Booking confirmed: Cinque Terre, Walks; Views ({reference})"
    assert "Your booking is confirmed." in message.body and "Balance due: £300.00" in message.body
    assert f"attached calendar file ({reference}.ics)" in message.body
    assert "Names and details are still needed" not in message.body  # given already
    ((filename, content, mimetype),) = message.attachments
    assert (filename, mimetype) == (f"{reference}.ics", "text/calendar")
    lines = content.split("\r\n")
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-2] == "END:VCALENDAR" and lines[-1] == ""
    assert f"DTSTART;VALUE=DATE:{start:%Y%m%d}" in lines
    assert f"DTEND;VALUE=DATE:{start + dt.timedelta(days=5):%Y%m%d}" in lines
    assert "SUMMARY:Cinque Terre\\, Walks\\; Views" in lines and "LOCATION:Liguria" in lines
    assert any(line.startswith(f"UID:booking-{booking.pk}@") for line in lines)
    assert all(len(line.encode()) <= 75 for line in lines)
    assert "calendar file" in _html(message)


@pytest.mark.django_db
def test_confirmation_of_a_booking_cancelled_meanwhile_sends_nothing(make_trip, book, traveller, booking_desk) -> None:
    booking = book(traveller, make_trip(), 1)
    with acting(booking_desk):
        services.booking_confirm(actor=booking_desk, booking_id=booking.pk)
        services.booking_cancel(actor=booking_desk, booking_id=booking.pk, reason="Storm", full_refund=True)
        assert booking_confirmed.run(booking.pk) == "skipped"
    assert not EmailDelivery.objects.filter(kind="booking_confirmed").exists()


def test_ics_escaping_and_folding() -> None:
    assert ics_text("a,b;c\\d\ne") == "a\\,b\\;c\\\\d\\ne"
    text = departure_ics(
        booking_id=7, reference="B000007", trip_name="Ö" * 80, resort="Nordkapp", start=dt.date(2031, 2, 3),
        length_days=1, travellers=2, url="https://forge.example/bookings/7/",
        stamp=dt.datetime(2031, 1, 1, tzinfo=dt.UTC),
    )  # fmt: skip
    lines = text.split("\r\n")
    assert all(len(line.encode()) <= 75 for line in lines)
    summary = [line for line in lines if line.startswith("SUMMARY:") or line.startswith(" Ö")]
    assert "".join(part.removeprefix(" ") for part in summary) == "SUMMARY:" + "Ö" * 80
    assert "DTEND;VALUE=DATE:20310204" in lines and "DTSTAMP:20310101T000000Z" in lines


def _confirmed(book: Any, desk: Any, user: Any, trip: Any, travellers: int = 1) -> Any:
    booking = book(user, trip, travellers)
    with acting(desk):
        services.booking_confirm(actor=desk, booking_id=booking.pk)
    return booking


@pytest.mark.django_db
def test_reminder_goes_once_to_confirmed_bookings_within_the_window(
    make_trip, book, traveller, other_traveller, booking_desk, settings
) -> None:
    settings.BOOKING_REMINDER_DAYS = 7
    today = timezone.localdate()
    soon = make_trip(name="Alpine Rail", start=today + dt.timedelta(days=5), price_minor=200_00)
    later = make_trip(start=today + dt.timedelta(days=20))
    due = _confirmed(book, booking_desk, traveller, soon, 2)
    with acting(booking_desk):
        services.booking_record_payment(
            actor=booking_desk, booking_id=due.pk, amount_minor=150_00, method="card", reference="C-1"
        )
    _confirmed(book, booking_desk, other_traveller, later)  # outside the window
    book(other_traveller, soon, 1)  # pending: not reminded
    cancelled = _confirmed(book, booking_desk, other_traveller, soon)
    with acting(booking_desk):
        services.booking_cancel(actor=booking_desk, booking_id=cancelled.pk, reason="Ill", full_refund=True)
    assert booking_reminders_send() == 1
    assert booking_reminders_send() == 0  # the job runs again: nothing more
    assert EmailDelivery.objects.filter(kind="booking_reminder").count() == 1
    with acting(traveller):
        assert Booking.objects.get(pk=due.pk).reminder_sent_at is not None
    message = _sent("booking_reminder", traveller.email)
    start = soon.start
    assert message.subject == f"Your trip is coming up: Alpine Rail on {start:%A} {start.day} {start:%B %Y}"
    body = message.body
    assert f"Alpine Rail departs in 5 days, on {start:%A} {start.day} {start:%B %Y}." in body
    assert f"Reference: B{due.pk:06d}" in body and "Travellers: 2" in body
    assert "still missing the names and details of 2 travellers" in body
    assert "Balance due: £250.00" in body
    assert "Balance due: £250.00" in _html(message)


@pytest.mark.django_db
def test_reminder_of_a_paid_booking_links_its_receipt_and_names_the_travellers(
    make_trip, book, traveller, booking_desk, settings
) -> None:
    settings.BOOKING_REMINDER_DAYS = 30
    trip = make_trip(name="Lofoten Light", start=timezone.localdate() + dt.timedelta(days=20), price_minor=100_00)
    booking = _confirmed(book, booking_desk, traveller, trip)
    with acting(traveller):
        services.booking_travellers_update(actor=traveller, booking_id=booking.pk, travellers=[DETAILS])
    with acting(booking_desk):
        services.booking_record_payment(
            actor=booking_desk, booking_id=booking.pk, amount_minor=100_00, method="cash", reference="TILL-1"
        )
    assert booking_reminders_send() == 1
    body = _sent("booking_reminder", traveller.email).body
    assert "  - Ada Lovelace" in body and "still missing" not in body and "Balance due" not in body
    assert f"Paid in full. Your receipt: {settings.SITE_URL.rstrip('/')}/bookings/{booking.pk}/receipt/" in body


def test_the_reminder_job_is_on_the_beat_schedule() -> None:
    entry = beat_schedule(backup_hour=2)["notifications-booking-reminders"]
    assert entry["task"] == "notifications.booking_reminders"
    assert "notifications.booking_reminders" in current_app.tasks


def test_concurrent_reminder_runs_send_each_reminder_once(committed_db) -> None:
    editor = person_create("catalogue_editor", f"e-{uuid.uuid4().hex[:8]}@example.com")
    desk = person_create("booking_desk", f"d-{uuid.uuid4().hex[:8]}@example.com")
    trip = create_trip(editor, start=timezone.localdate() + dt.timedelta(days=3), seats=20)
    relay_sweep()
    booked = []
    for i in range(8):
        user = person_create("traveller", f"t{i}-{uuid.uuid4().hex[:8]}@example.com")
        with acting(user):
            booking, _ = services.booking_create(
                actor=user, trip_code=trip.code, travel_date=trip.start, travellers=1,
                idempotency_key=uuid.uuid4(), expected_total_minor=trip.price_minor,
            )  # fmt: skip
        with acting(desk):
            services.booking_confirm(actor=desk, booking_id=booking.pk)
        booked.append(booking.pk)
    barrier = threading.Barrier(4)
    counts: list[int] = []

    def run() -> None:
        try:
            barrier.wait(timeout=30)
            counts.append(booking_reminders_send())
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sum(counts) == 8 and len(counts) == 4
    keys = sorted(EmailDelivery.objects.filter(kind="booking_reminder").values_list("idempotency_key", flat=True))
    assert keys == sorted(f"booking:{pk}:booking_reminder" for pk in booked)
    assert booking_reminders_send() == 0
