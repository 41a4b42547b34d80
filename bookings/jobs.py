"""Celery jobs of the bookings app: confirmation and cancellation emails, and the notices to
the travellers of a cancelled departure.

Queued by the services with enqueue_on_commit (ids only, after commit). Each job reads
the booking under the context carried from the request that changed it (the traveller
or a staff member, so RLS lets it see the row) and hands the email to mail.delivery,
which follows the traveller's notification preferences and sends exactly once
(the idempotency key is per booking and event).
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import InterfaceError, OperationalError, transaction
from django.urls import reverse
from django.utils import timezone

from bookings.models import Booking, BookingStatus, Departure, TripListing
from bookings.policy import money
from mail.delivery import mail_notification
from sync.outbox import outbox_record
from taskforge.dbcontext import context_for_system, db_context

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


def in_app_notify(*, notification_id: str, user_id: int, kind: str, title: str, message: str, url: str) -> None:
    """An in-app notification (the tasks app's "notification" outbox aggregate: a document
    inserted once by its id, so recording it again is harmless). In the caller's transaction."""
    outbox_record(
        aggregate_type="notification",
        aggregate_id=notification_id,
        version=1,
        event_type="notification.created",
        payload={
            "user_id": user_id,
            "kind": kind,
            "task_id": None,
            "team_id": None,
            "actor_id": None,
            "title": title,
            "message": message,
            "url": url,
            "created_at": timezone.now().isoformat(),
        },
    )


def departure_cancelled_send(departure_id: int) -> int:
    """Tell every traveller with a live booking on the cancelled departure: an email and an
    in-app notice, each keyed by the booking, so a rerun sends nothing twice. Runs as the
    system (a catalogue editor who cancelled may not see the bookings under RLS). Returns
    the number of bookings told."""
    with db_context(context_for_system("bookings.departure_cancelled")):
        departure = Departure.objects.filter(pk=departure_id).select_related("trip").first()
        if departure is None or not departure.is_cancelled:
            return 0
        trip_name = TripListing.objects.filter(code=departure.trip.code).values_list("name", flat=True).first()
        trip_name = trip_name or departure.trip.code
        bookings = list(
            Booking.objects.filter(departure_id=departure_id).exclude(status=BookingStatus.CANCELLED).order_by("pk")
        )
        for booking in bookings:
            reference = f"B{booking.pk:06d}"
            url = reverse("bookings:booking_detail", kwargs={"booking_id": booking.pk})
            summary = (
                f"The {departure.date.isoformat()} departure of {trip_name} is cancelled. Choose a full refund "
                f"or a move to another date for booking {reference}."
            )
            with transaction.atomic():
                mail_notification(
                    user_id=booking.user_id,
                    kind="departure_cancelled",
                    summary=summary,
                    url=url,
                    idempotency_key=f"booking:{booking.pk}:departure_cancelled",
                    context={
                        "trip_name": trip_name,
                        "reference": reference,
                        "start_date": departure.date.isoformat(),
                        "travellers": booking.travellers,
                        "reason": departure.cancel_reason,
                        "refund": money(booking.total_minor, booking.currency),
                    },
                )
                in_app_notify(
                    notification_id=f"booking-{booking.pk}-departure-cancelled",
                    user_id=booking.user_id,
                    kind="departure_cancelled",
                    title=f"{trip_name}, {departure.date.isoformat()}",
                    message="This departure is cancelled: choose a full refund or another date.",
                    url=url,
                )
        return len(bookings)


@shared_task(
    name="notifications.departure_cancelled",
    autoretry_for=_TRANSIENT,
    retry_backoff=True,
    max_retries=5,
    time_limit=300,
    soft_time_limit=280,
    acks_late=True,
    reject_on_worker_lost=True,
)
def departure_cancelled_notify(departure_id: int) -> int:
    return departure_cancelled_send(departure_id)
