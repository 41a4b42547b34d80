"""Celery jobs of the bookings app: confirmation and cancellation emails.

Queued by the services with enqueue_on_commit (ids only, after commit). Each job reads
the booking under the context carried from the request that changed it (the traveller
or a staff member, so RLS lets it see the row) and hands the email to mail.delivery,
which follows the traveller's notification preferences and sends exactly once
(the idempotency key is per booking and event).
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import InterfaceError, OperationalError
from django.urls import reverse

from bookings.models import Booking, TripListing
from bookings.policy import money
from mail.delivery import mail_notification

logger = logging.getLogger(__name__)

_TRANSIENT = (OperationalError, InterfaceError)


def _notify(booking_id: int, kind: str) -> str:
    booking = Booking.objects.filter(pk=booking_id).first()
    if booking is None:
        # Deleted, or not visible under the carried context: nothing we may send.
        logger.warning("%s: booking %s not found (or not visible to this context)", kind, booking_id)
        return "missing"
    trip_name = TripListing.objects.filter(code=booking.trip_id).values_list("name", flat=True).first() or ""
    reference = f"B{booking.pk:06d}"
    context = {
        "trip_name": trip_name or booking.trip_id,
        "reference": reference,
        "start_date": booking.travel_date.isoformat(),
        "travellers": booking.travellers,
        # A live booking comes to its total less the refunds for travellers taken off.
        "total": money(booking.total_minor if booking.is_cancelled else booking.net_minor, booking.currency),
    }
    if kind == "booking_confirmed":
        summary = f"Booking {reference} for {context['trip_name']} on {context['start_date']} is confirmed."
    else:
        context["reason"] = booking.cancel_reason
        context["refund"] = money(booking.refund_minor or 0, booking.currency)
        summary = f"Booking {reference} for {context['trip_name']} was cancelled; refund {context['refund']}."
    return mail_notification(
        user_id=booking.user_id,
        kind=kind,
        summary=summary,
        url=reverse("bookings:booking_detail", kwargs={"booking_id": booking.pk}),
        idempotency_key=f"booking:{booking.pk}:{kind}",
        context=context,
    )


@shared_task(
    name="notifications.booking_confirmed",
    autoretry_for=_TRANSIENT,
    retry_backoff=True,
    max_retries=5,
    time_limit=60,
    soft_time_limit=50,
)
def booking_confirmed(booking_id: int) -> str:
    return _notify(booking_id, "booking_confirmed")


@shared_task(
    name="notifications.booking_cancelled",
    autoretry_for=_TRANSIENT,
    retry_backoff=True,
    max_retries=5,
    time_limit=60,
    soft_time_limit=50,
)
def booking_cancelled(booking_id: int) -> str:
    return _notify(booking_id, "booking_cancelled")
