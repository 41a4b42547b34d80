"""The booking lifecycle's emails: "booking received" (a summary and what happens next),
the confirmation with the departure's .ics calendar file, and the reminder N days before
departure, sent by a beat job exactly once per booking.

These are transactional emails about a booking the person made, so they go through
`mail_queue` (always sent, never folded into a digest, which would drop the calendar
file). Each is keyed by booking and kind, so queuing one twice sends it once. The
received email is queued in the booking's own transaction (it cannot be lost to a broker
outage: the delivery row commits with the booking and the email sweep re-queues it).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.urls import reverse
from django.utils import timezone

from bookings.calendar import departure_ics
from bookings.models import Booking, BookingStatus, BookingTraveller, TripListing
from bookings.policy import REFUND_TIERS, money, traveller_details_deadline
from mail.delivery import absolute_url, mail_queue
from taskforge.dbcontext import context_for_system, db_context

logger = logging.getLogger(__name__)

REMINDER_BATCH = 500


def _long_date(value: Any) -> str:
    return f"{value:%A} {value.day} {value:%B %Y}"


def booking_email_context(booking: Booking) -> dict[str, Any]:
    """What the booking emails say about a booking (JSON-ready)."""
    listing = TripListing.objects.filter(code=booking.trip_id).values("name", "resort", "length_days").first() or {}
    names = list(
        BookingTraveller.objects.filter(booking=booking, position__lte=booking.travellers)
        .order_by("position")
        .values_list("full_name", flat=True)
    )
    balance = booking.balance_due_minor
    return {
        "trip_name": listing.get("name") or booking.trip_id,
        "resort": listing.get("resort") or "",
        "length_days": listing.get("length_days") or booking.trip.length_days,
        "reference": f"B{booking.pk:06d}",
        "start_date": _long_date(booking.travel_date),
        "travellers": booking.travellers,
        "traveller_names": names,
        "details_missing": max(0, booking.travellers - len(names)),
        "details_deadline": _long_date(traveller_details_deadline(booking.travel_date)),
        "total": money(booking.net_minor, booking.currency),
        "paid": money(booking.paid_minor, booking.currency),
        "balance": money(max(balance, 0), booking.currency),
        "balance_due": balance > 0,
        "url": reverse("bookings:booking_detail", kwargs={"booking_id": booking.pk}),
        "travellers_url": absolute_url(reverse("bookings:booking_travellers", kwargs={"booking_id": booking.pk})),
        "receipt_url": absolute_url(reverse("bookings:booking_receipt", kwargs={"booking_id": booking.pk}))
        if booking.is_paid_in_full
        else "",
    }


def booking_received_queue(booking: Booking) -> None:
    """The "booking received" email, in the caller's (the booking's) transaction."""
    context = booking_email_context(booking)
    context["summary"] = (
        f"We have received your booking {context['reference']} for {context['trip_name']} on "
        f"{context['start_date']} ({booking.travellers} traveller{'s' if booking.travellers != 1 else ''}, "
        f"{context['total']})."
    )
    context["refund_tiers"] = [f"{pct}% refund {days} or more days before departure" for days, pct in REFUND_TIERS]
    mail_queue(
        kind="booking_received",
        to_user_id=booking.user_id,
        context=context,
        idempotency_key=f"booking:{booking.pk}:booking_received",
    )


def booking_confirmed_queue(booking_id: int) -> str:
    """The confirmation email with the departure's calendar file (queued by the job that the
    confirmation enqueues after commit, under the confirming person's context)."""
    booking = Booking.objects.filter(pk=booking_id).select_related("trip").first()
    if booking is None:
        logger.warning("booking_confirmed: booking %s not found (or not visible to this context)", booking_id)
        return "missing"
    if booking.status != BookingStatus.CONFIRMED:
        return "skipped"
    context = booking_email_context(booking)
    context["summary"] = (
        f"Booking {context['reference']} for {context['trip_name']} on {context['start_date']} is confirmed."
    )
    filename = f"{context['reference']}.ics"
    context["calendar_file"] = filename
    context["attachments"] = [
        {
            "filename": filename,
            "mimetype": "text/calendar",
            "content": departure_ics(
                booking_id=booking.pk,
                reference=context["reference"],
                trip_name=context["trip_name"],
                resort=context["resort"],
                start=booking.travel_date,
                length_days=context["length_days"],
                travellers=booking.travellers,
                url=absolute_url(context["url"]),
                stamp=booking.confirmed_at or timezone.now(),
            ),
        }
    ]
    mail_queue(
        kind="booking_confirmed",
        to_user_id=booking.user_id,
        context=context,
        idempotency_key=f"booking:{booking.pk}:booking_confirmed",
    )
    return "queued"


def booking_reminders_send() -> int:
    """Queue the reminder of every confirmed booking departing within BOOKING_REMINDER_DAYS
    that has not had one. Exactly once per booking, however often (or concurrently) this
    runs: each booking is locked (skipping one another run holds), its `reminder_sent_at`
    is set and its email queued in one transaction, and the email's key is per booking.
    Runs as the system. Returns the number of reminders queued."""
    sent = 0
    with db_context(context_for_system("bookings.booking_reminders")):
        today = timezone.localdate()
        horizon = today + dt.timedelta(days=settings.BOOKING_REMINDER_DAYS)
        due = list(
            Booking.objects.filter(
                status=BookingStatus.CONFIRMED,
                reminder_sent_at__isnull=True,
                travel_date__gt=today,
                travel_date__lte=horizon,
            )
            .order_by("travel_date", "pk")
            .values_list("pk", flat=True)[:REMINDER_BATCH]
        )
        for booking_id in due:
            with transaction.atomic():
                booking = (
                    Booking.objects.select_for_update(skip_locked=True, of=("self",))
                    .select_related("trip", "user")
                    .filter(pk=booking_id, status=BookingStatus.CONFIRMED, reminder_sent_at__isnull=True)
                    .first()
                )
                if booking is None:
                    continue  # reminded meanwhile, cancelled, or another run holds it
                booking.reminder_sent_at = timezone.now()
                booking.save(update_fields=["reminder_sent_at"])
                if not booking.user.is_active or booking.user.erased_at is not None:
                    continue
                context = booking_email_context(booking)
                days = (booking.travel_date - today).days
                context["days_to_go"] = days
                plural = "s" if days != 1 else ""
                context["summary"] = (
                    f"{context['trip_name']} departs in {days} day{plural}, on {context['start_date']}."
                )
                mail_queue(
                    kind="booking_reminder",
                    to_user_id=booking.user_id,
                    context=context,
                    idempotency_key=f"booking:{booking.pk}:booking_reminder",
                )
                sent += 1
    return sent


@shared_task(
    name="notifications.booking_reminders",
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    max_retries=3,
    time_limit=600,
    soft_time_limit=580,
    ignore_result=True,
)
def booking_reminders_task() -> int:
    return booking_reminders_send()
