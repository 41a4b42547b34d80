"""Payments (amount, method, reference), the balance due, and the receipt of a booking paid
in full, with its gap-free number per year allocated in the payment's transaction."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from typing import Any
from unittest import mock

import pytest
from django.db import connections, transaction
from django.utils import timezone

from bookings import services
from bookings.models import Booking, Payment, Receipt, ReceiptCounter
from bookings.services.payments import receipt_number_next
from bookings.tests.conftest import create_trip
from taskforge.errors import Conflict, NotFound, ServiceError
from taskforge.testing.personas import acting, person_create


def _pay(desk: Any, booking: Any, amount: int, method: str = "card", reference: str = "PAY-1") -> Payment:
    with acting(desk):
        return services.booking_record_payment(
            actor=desk, booking_id=booking.pk, amount_minor=amount, method=method, reference=reference
        )


def _fresh(user: Any, booking: Any) -> Booking:
    with acting(user):
        return Booking.objects.get(pk=booking.pk)


@pytest.mark.django_db
def test_payments_record_amount_method_reference_and_the_last_one_issues_the_receipt(
    make_trip, book, traveller, booking_desk
) -> None:
    trip = make_trip(price_minor=500_00)
    booking = book(traveller, trip, 2)  # £1,000.00
    first = _pay(booking_desk, booking, 300_00, "bank_transfer", "BANK-001")
    assert (first.amount_minor, first.method, first.reference, first.currency) == (
        300_00,
        "bank_transfer",
        "BANK-001",
        "GBP",
    )
    assert first.recorded_by_id == booking_desk.pk and first.user_id == traveller.pk
    after_first = _fresh(traveller, booking)
    assert (after_first.paid_minor, after_first.balance_due_minor, after_first.is_paid_in_full) == (
        300_00,
        700_00,
        False,
    )
    with acting(booking_desk):
        assert not Receipt.objects.filter(booking=booking).exists()
    with pytest.raises(ServiceError, match=r"balance due is £700\.00") as too_much:
        _pay(booking_desk, booking, 700_01)
    assert too_much.value.field == "amount"
    _pay(booking_desk, booking, 700_00, "card", "CARD-9")
    paid = _fresh(traveller, booking)
    assert (paid.paid_minor, paid.balance_due_minor, paid.is_paid_in_full) == (1000_00, 0, True)
    assert paid.payment_reference == "CARD-9"
    with acting(traveller):  # the traveller sees their own receipt (RLS)
        receipt = Receipt.objects.get(booking=booking)
    assert (receipt.amount_minor, receipt.currency, receipt.year) == (1000_00, "GBP", timezone.localdate().year)
    assert receipt.label == f"R{receipt.year}-{receipt.number:06d}"
    with pytest.raises(Conflict, match="already paid in full"):
        _pay(booking_desk, booking, 1)
    with acting(booking_desk):
        assert Payment.objects.filter(booking=booking).count() == 2
        assert Receipt.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("amount", "method", "reference", "field"),
    [(0, "card", "P1", "amount"), (-5, "card", "P1", "amount"), ("ten", "card", "P1", "amount"),
     (True, "card", "P1", "amount"), (100, "bitcoin", "P1", "method"), (100, "card", "<x>", "reference")],
)  # fmt: skip
def test_payment_input_is_refused_with_the_field_it_concerns(
    make_trip, book, traveller, booking_desk, amount, method, reference, field
) -> None:
    booking = book(traveller, make_trip(), 1)
    with pytest.raises(ServiceError) as refused:
        _pay(booking_desk, booking, amount, method, reference)
    assert refused.value.field == field
    assert _fresh(traveller, booking).paid_minor == 0


@pytest.mark.django_db
def test_only_the_booking_desk_records_payments_and_not_on_cancelled_bookings(
    make_trip, book, traveller, booking_desk
) -> None:
    booking = book(traveller, make_trip(), 1)
    with acting(traveller), pytest.raises(NotFound):
        services.booking_record_payment(
            actor=traveller, booking_id=booking.pk, amount_minor=100, method="card", reference="SELF-PAY"
        )
    with acting(traveller):
        services.booking_cancel(actor=traveller, booking_id=booking.pk)
    with pytest.raises(Conflict, match="cancelled"):
        _pay(booking_desk, booking, 100)


@pytest.mark.django_db
def test_receipt_numbers_follow_each_other_within_a_year_and_restart_in_the_next(
    make_trip, book, traveller, booking_desk
) -> None:
    trip = make_trip(price_minor=100_00)
    a, b, c = (book(traveller, trip, 1) for _ in range(3))
    _pay(booking_desk, a, 100_00)
    _pay(booking_desk, b, 100_00)
    new_year = dt.datetime(timezone.localdate().year + 1, 1, 1, 9, 0, tzinfo=dt.UTC)
    with mock.patch("bookings.services.payments.timezone.now", return_value=new_year):
        _pay(booking_desk, c, 100_00)
    with acting(booking_desk):
        numbers = {r.booking_id: (r.year, r.number) for r in Receipt.objects.all()}
    year = timezone.localdate().year
    assert numbers == {a.pk: (year, 1), b.pk: (year, 2), c.pk: (year + 1, 1)}


@pytest.mark.django_db
def test_a_rolled_back_payment_gives_its_receipt_number_back(make_trip, book, traveller, booking_desk) -> None:
    booking = book(traveller, make_trip(price_minor=100_00), 1)
    year = timezone.localdate().year
    with pytest.raises(RuntimeError), transaction.atomic():
        assert receipt_number_next(year) == 1
        raise RuntimeError("the payment failed after the number was taken")
    _pay(booking_desk, booking, 100_00)
    with acting(booking_desk):
        assert Receipt.objects.get(booking=booking).number == 1


@pytest.mark.django_db
def test_balance_and_receipt_pages(client, make_trip, book, traveller, other_traveller, booking_desk) -> None:
    trip = make_trip(price_minor=250_00, name="Fjord Kayaks")
    booking = book(traveller, trip, 2)
    _pay(booking_desk, booking, 100_00, "cash", "TILL-4")
    client.force_login(traveller)
    page = client.get(f"/bookings/{booking.pk}/").content.decode()
    assert 'id="booking-balance">£400.00<' in page and 'id="booking-paid">£100.00<' in page
    assert "TILL-4" in page and "Cash" in page and 'id="payment-form"' not in page  # no staff form
    assert client.get(f"/bookings/{booking.pk}/receipt/").status_code == 404  # not paid in full yet
    client.force_login(booking_desk)
    desk_page = client.get(f"/bookings/{booking.pk}/").content.decode()
    assert 'id="booking-balance">£400.00<' in desk_page and 'name="amount" value="400.00"' in desk_page
    assert (
        client.post(
            f"/bookings/{booking.pk}/payment/", {"amount": "400.01", "method": "card", "reference": "C1"}
        ).status_code
        == 400
    )
    bad = client.post(f"/bookings/{booking.pk}/payment/", {"amount": "1.234", "method": "card", "reference": "C1"})
    assert bad.status_code == 400 and "two decimal places" in bad.content.decode()
    done = client.post(f"/bookings/{booking.pk}/payment/", {"amount": "400.00", "method": "card", "reference": "C1"})
    assert done.status_code == 302
    client.force_login(traveller)
    receipt = client.get(f"/bookings/{booking.pk}/receipt/")
    text = receipt.content.decode()
    year = timezone.localdate().year
    assert receipt.status_code == 200 and f'id="receipt-number">R{year}-000001<' in text
    assert "Fjord Kayaks" in text and 'id="receipt-total">£500.00<' in text and "data-print" in text
    assert "TILL-4" in text and "C1" in text
    assert f'href="/bookings/{booking.pk}/receipt/"' in client.get(f"/bookings/{booking.pk}/").content.decode()
    client.force_login(other_traveller)
    assert client.get(f"/bookings/{booking.pk}/receipt/").status_code == 404


def _users(role: str, count: int) -> list[Any]:
    return [person_create(role, f"{role}{i}-{uuid.uuid4().hex[:8]}@example.com") for i in range(count)]


def test_concurrent_payments_get_receipt_numbers_without_gaps_or_duplicates(committed_db) -> None:
    """Payments completing bookings at the same moment, with failed payments among them that
    took a number and rolled back: the numbers kept are exactly 1..N."""
    (editor,) = _users("catalogue_editor", 1)
    (desk,) = _users("booking_desk", 1)
    trip = create_trip(editor, seats=40, price_minor=100_00)
    payers = 12
    travellers = _users("traveller", payers)
    bookings = []
    for user in travellers:
        with acting(user):
            booking, _ = services.booking_create(
                actor=user, trip_code=trip.code, travel_date=trip.start, travellers=1,
                idempotency_key=uuid.uuid4(), expected_total_minor=100_00,
            )  # fmt: skip
        bookings.append(booking)
    year = timezone.localdate().year
    barrier = threading.Barrier(payers + 4)
    errors: list[BaseException] = []

    def pay(booking: Any) -> None:
        try:
            with acting(desk):
                barrier.wait(timeout=30)
                services.booking_record_payment(
                    actor=desk, booking_id=booking.pk, amount_minor=100_00, method="card", reference=f"P{booking.pk}"
                )
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    def fail_after_taking_a_number() -> None:
        try:
            with acting(desk):
                barrier.wait(timeout=30)
                with transaction.atomic():
                    receipt_number_next(year)
                    raise RuntimeError("rolled back")
        except RuntimeError:
            pass
        finally:
            connections.close_all()

    threads = [threading.Thread(target=pay, args=(b,)) for b in bookings]
    threads += [threading.Thread(target=fail_after_taking_a_number) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    with acting(desk):
        numbers = sorted(Receipt.objects.filter(year=year).values_list("number", flat=True))
        assert set(Receipt.objects.values_list("booking_id", flat=True)) == {b.pk for b in bookings}
    assert numbers == list(range(1, payers + 1))
    assert ReceiptCounter.objects.get(year=year).last_number == payers
