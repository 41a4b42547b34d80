"""Cancellations under the policy (bookings/policy.py): a whole booking (by the traveller,
or by the booking desk with a reason), fewer travellers (a partial cancellation, quoted
first), and the pending bookings of an account being erased. Freed seats go back on sale.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import Capability
from accounts.permissions import capability_has
from bookings.jobs import booking_cancelled
from bookings.models import Booking, BookingStatus, Departure
from bookings.policy import (
    CANCEL_REASON_MAX_LENGTH,
    CANCEL_REASON_REQUIRED,
    CANCEL_REASON_TOO_LONG,
    ReductionQuote,
    Refund,
    booking_total,
    money,
    reduction_quote,
    refund_quote,
)
from bookings.services.common import booking_event_data, booking_for_update, local_today, travellers_check
from bookings.services.waitlist import seats_freed_on_commit
from sync.events import business_event_record
from taskforge.errors import Conflict, NotFound, ServiceError
from taskforge.tasks_util import enqueue_on_commit


def release_seats(booking: Booking, seats: int) -> Departure:
    """Give `seats` of the booking's departure back (the row locked for the change)."""
    departure = Departure.objects.select_for_update(of=("self",)).get(pk=booking.departure_id)
    departure.seats_taken = max(departure.seats_taken - seats, 0)
    departure.save(update_fields=["seats_taken"])
    seats_freed_on_commit(departure.pk)  # the waiting list's turn
    return departure


def booking_cancel(*, actor: Any, booking_id: int, reason: str = "", full_refund: bool = False) -> Booking:
    """Cancel a booking under the policy (100% at 30+ days, 50% at 7+ days, else nothing).

    Travellers cancel their own bookings before travel; staff cancel any booking with a
    reason and may refund in full (a cancellation by the company). The policy applies to
    the travellers still on the booking; what earlier reductions refunded is kept in the
    refund (a full refund gives back the whole total, the removed travellers' charges too).
    """
    is_staff = capability_has(actor, Capability.BOOKING_DESK)
    reason = (reason or "").strip()
    if is_staff and not reason:
        raise ServiceError(CANCEL_REASON_REQUIRED, field="reason")
    if len(reason) > CANCEL_REASON_MAX_LENGTH:
        raise ServiceError(CANCEL_REASON_TOO_LONG, field="reason")
    with transaction.atomic():
        booking = booking_for_update(actor, booking_id)
        if booking.status == BookingStatus.CANCELLED:
            raise Conflict("This booking is already cancelled.")
        today = local_today()
        if not is_staff and booking.travel_date <= today:
            raise ServiceError("The trip has started; contact us to cancel.")
        if is_staff and full_refund:
            refund_minor = booking.total_minor
        else:
            refund_minor = (booking.refund_minor or 0) + cancellation_refund(booking, today=today).amount_minor
        release_seats(booking, booking.travellers)
        now = timezone.now()
        booking.status = BookingStatus.CANCELLED
        booking.refund_minor = refund_minor
        booking.cancel_reason = reason or "Cancelled by the traveller."
        booking.cancelled_at = now
        booking.updated_at = now
        booking.save(update_fields=["status", "refund_minor", "cancel_reason", "cancelled_at", "updated_at"])
        business_event_record(event_type="booking.cancelled", team_id=None, data=booking_event_data(booking))
        enqueue_on_commit(booking_cancelled, booking.pk)
    return booking


def cancellation_refund(booking: Booking, *, today: dt.date) -> Refund:
    """What cancelling the booking today would refund for the travellers still on it."""
    return refund_quote(
        total_minor=booking_total(booking.unit_price_minor, booking.travellers),
        travel_date=booking.travel_date,
        today=today,
    )


def _reduction_check(booking: Booking, count: int, today: dt.date) -> ReductionQuote:
    if booking.status == BookingStatus.CANCELLED:
        raise Conflict("This booking is cancelled.")
    if booking.travel_date <= today:
        raise ServiceError("The trip has started; the booking can no longer change.")
    if count >= booking.travellers:
        raise ServiceError(
            f"Choose fewer than the current {booking.travellers} travellers (at least 1).", field="travellers"
        )
    return reduction_quote(
        unit_price_minor=booking.unit_price_minor,
        travellers_before=booking.travellers,
        travellers_after=count,
        travel_date=booking.travel_date,
        today=today,
    )


def booking_reduce_quote(*, actor: Any, booking_id: int, travellers: Any) -> ReductionQuote:
    """What lowering the travellers to `travellers` would refund today (no locks, nothing
    written; the reduction checks again). Shown before the traveller confirms."""
    count = travellers_check(travellers)
    qs = Booking.objects.all()
    if not capability_has(actor, Capability.BOOKING_DESK):
        qs = qs.filter(user_id=getattr(actor, "pk", None))
    booking = qs.filter(pk=booking_id).first()
    if booking is None:
        raise NotFound("No such booking.")
    return _reduction_check(booking, count, local_today())


def booking_reduce_travellers(
    *, actor: Any, booking_id: int, travellers: Any, expected_refund_minor: int | None = None
) -> Booking:
    """Lower the number of travellers: a partial cancellation under the same policy.

    The freed seats go back on sale. The removed travellers' price stays in the total and
    the policy's refund for it is added to the booking's refund, as a cancellation records
    it (in the no-refund window the reduction is allowed and their price is kept).
    `expected_refund_minor` is the refund the person was shown: if the policy tier moved
    on since (midnight passed), the reduction is refused rather than made on other terms.
    """
    count = travellers_check(travellers)
    with transaction.atomic():
        booking = booking_for_update(actor, booking_id)
        quote = _reduction_check(booking, count, local_today())
        if expected_refund_minor is not None and expected_refund_minor != quote.refund.amount_minor:
            raise Conflict(
                "The refund for this change is now "
                f"{money(quote.refund.amount_minor, booking.currency)} ({quote.refund.percent}%), "
                "not what you were shown. Review it and confirm again."
            )
        release_seats(booking, quote.removed)
        booking.travellers = count
        booking.removed_travellers += quote.removed
        booking.refund_minor = (booking.refund_minor or 0) + quote.refund.amount_minor
        booking.updated_at = timezone.now()
        booking.save(update_fields=["travellers", "removed_travellers", "refund_minor", "updated_at"])
    return booking


def bookings_cancel_for_erasure(*, user_id: int) -> dict[str, int]:
    """Erasing a traveller's account (called by the bookings eraser, bookings/personal_data.py,
    inside the erasure's transaction): their pending, unpaid bookings are cancelled and
    their seats go back on sale. Confirmed or paid bookings stay for accounting, under
    the pseudonymised account. Nothing was paid, so nothing is refunded; no email is sent
    (the address is being erased)."""
    released = 0
    with transaction.atomic():
        pending = list(
            Booking.objects.select_for_update()
            .filter(user_id=user_id, status=BookingStatus.PENDING, payment_reference="")
            .order_by("pk")
        )
        now = timezone.now()
        for booking in pending:
            release_seats(booking, booking.travellers)
            released += booking.travellers
            booking.status = BookingStatus.CANCELLED
            booking.refund_minor = booking.refund_minor or 0
            booking.cancel_reason = "Cancelled: the traveller's account was erased."
            booking.cancelled_at = now
            booking.updated_at = now
            booking.save(update_fields=["status", "refund_minor", "cancel_reason", "cancelled_at", "updated_at"])
            business_event_record(event_type="booking.cancelled", team_id=None, data=booking_event_data(booking))
    return {"bookings_cancelled": len(pending), "seats_released": released}
