"""Confirmation and cancellation emails: queued after commit, sent through mail.delivery."""

from __future__ import annotations

import time
import uuid

import pytest

from bookings import services
from bookings.jobs import booking_cancelled, booking_confirmed
from bookings.tests.conftest import create_trip
from mail.models import EmailDelivery
from taskforge.testing.personas import acting, person_create


@pytest.mark.django_db
def test_jobs_hand_the_email_to_the_delivery_log(make_trip, book, traveller, other_traveller, booking_desk) -> None:
    trip = make_trip(name="Masai Mara Safari", price_minor=390_000)
    booking = book(traveller, trip, 2)
    with acting(booking_desk):
        services.booking_confirm(actor=booking_desk, booking_id=booking.pk)
        assert booking_confirmed.run(booking.pk) == "queued"
        assert booking_confirmed.run(booking.pk) == "queued"  # a redelivered job queues nothing new
    delivery = EmailDelivery.objects.get(kind="booking_confirmed")
    assert delivery.recipient == traveller.email and "Masai Mara Safari" in delivery.subject
    with acting(traveller):
        services.booking_cancel(actor=traveller, booking_id=booking.pk)
        assert booking_cancelled.run(booking.pk) == "queued"
    assert EmailDelivery.objects.filter(kind="booking_cancelled", recipient=traveller.email).count() == 1
    with acting(other_traveller):  # RLS: another traveller's context cannot read it
        assert booking_confirmed.run(booking.pk) == "missing"
    # booking received (queued with the booking), confirmed, cancelled
    assert sorted(EmailDelivery.objects.values_list("kind", flat=True)) == [
        "booking_cancelled",
        "booking_confirmed",
        "booking_received",
    ]


@pytest.mark.worker
def test_confirmation_email_goes_through_a_real_worker(celery_worker_proc) -> None:

    editor = person_create("catalogue_editor", f"e-{uuid.uuid4().hex[:8]}@example.com")
    desk = person_create("booking_desk", f"d-{uuid.uuid4().hex[:8]}@example.com")
    traveller = person_create("traveller", f"t-{uuid.uuid4().hex[:8]}@example.com")
    trip = create_trip(editor, name="Glass Igloo Nights")
    with acting(traveller):
        booking, _ = services.booking_create(
            actor=traveller,
            trip_code=trip.code,
            travel_date=trip.start,
            travellers=1,
            idempotency_key=uuid.uuid4(),
            expected_total_minor=trip.price_minor,
        )
    with acting(desk):
        services.booking_confirm(actor=desk, booking_id=booking.pk)  # queues the job on commit
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        delivery = EmailDelivery.objects.filter(kind="booking_confirmed", recipient=traveller.email).first()
        if delivery is not None and delivery.status == "sent":
            break
        time.sleep(0.3)
    assert delivery is not None and delivery.status == "sent", celery_worker_proc.log.read_text()[-2000:]
    assert "Glass Igloo Nights" in delivery.subject
