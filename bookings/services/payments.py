"""The booking desk records payments: amount, method and reference. The payment that pays a
booking in full issues its receipt, whose number is allocated in the same transaction."""

from __future__ import annotations

import re
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Capability
from bookings.models import Booking, BookingStatus, Payment, PaymentMethod, Receipt
from bookings.policy import PAYMENT_AMOUNT_POSITIVE, PAYMENT_METHOD_RULE, PAYMENT_REFERENCE_RULE, money
from bookings.services.common import booking_for_update, capability_require
from taskforge.errors import Conflict, ServiceError

PAYMENT_REFERENCE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._/#-]{0,99}$")

# One statement: the first receipt of a year inserts the counter at 1, later ones increment
# it. The row lock it takes is held to the end of the payment's transaction, so concurrent
# receipts of a year are numbered one after the other, and a rollback frees the number.
_NEXT_RECEIPT_NUMBER_SQL = """
INSERT INTO bookings_receipt_counter (year, last_number) VALUES (%s, 1)
ON CONFLICT (year) DO UPDATE SET last_number = bookings_receipt_counter.last_number + 1
RETURNING last_number
"""


def receipt_number_next(year: int) -> int:
    """The next receipt number of `year`; call inside the transaction that uses it."""
    with connection.cursor() as cursor:
        cursor.execute(_NEXT_RECEIPT_NUMBER_SQL, [year])
        return int(cursor.fetchone()[0])


def _receipt_issue(booking: Booking) -> Receipt:
    now = timezone.now()
    year = timezone.localdate(now).year
    return Receipt.objects.create(
        booking=booking,
        user_id=booking.user_id,
        year=year,
        number=receipt_number_next(year),
        amount_minor=booking.paid_minor,
        currency=booking.currency,
        issued_at=now,
    )


def _amount_check(amount_minor: Any) -> int:
    if isinstance(amount_minor, bool):
        raise ServiceError(PAYMENT_AMOUNT_POSITIVE, field="amount")
    try:
        value = int(amount_minor)
    except (TypeError, ValueError):
        raise ServiceError(PAYMENT_AMOUNT_POSITIVE, field="amount") from None
    if value <= 0:
        raise ServiceError(PAYMENT_AMOUNT_POSITIVE, field="amount")
    return value


def booking_record_payment(
    *, actor: Any, booking_id: int, amount_minor: Any | None, method: str, reference: str
) -> Payment:
    """Staff record a payment towards a live booking (`amount_minor` None: the whole balance
    due). Refused: more than the balance due, a booking already paid in full or cancelled.
    The payment that completes the booking issues its receipt (number allocated here, in
    this transaction)."""
    capability_require(actor, Capability.BOOKING_DESK)
    amount = None if amount_minor is None else _amount_check(amount_minor)
    if method not in PaymentMethod.values:
        raise ServiceError(PAYMENT_METHOD_RULE, field="method")
    reference = (reference or "").strip()
    if not PAYMENT_REFERENCE_RE.match(reference):
        raise ServiceError(PAYMENT_REFERENCE_RULE, field="reference")
    with transaction.atomic():
        booking = booking_for_update(actor, booking_id)
        if booking.status == BookingStatus.CANCELLED:
            raise Conflict("This booking is cancelled.")
        balance = booking.balance_due_minor
        if balance <= 0:
            raise Conflict("This booking is already paid in full.")
        if amount is None:
            amount = balance
        if amount > balance:
            raise ServiceError(
                f"The balance due is {money(balance, booking.currency)}; record at most that.", field="amount"
            )
        now = timezone.now()
        payment = Payment.objects.create(
            booking=booking,
            user_id=booking.user_id,
            amount_minor=amount,
            currency=booking.currency,
            method=method,
            reference=reference,
            recorded_by=actor,
            created_at=now,
        )
        booking.paid_minor += amount
        booking.payment_reference = reference
        booking.updated_at = now
        booking.save(update_fields=["paid_minor", "payment_reference", "updated_at"])
        if booking.balance_due_minor <= 0 and not Receipt.objects.filter(booking=booking).exists():
            _receipt_issue(booking)
    return payment
