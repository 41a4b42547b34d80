"""The waiting list of a full departure (pretix-like).

* A traveller joins a departure that has no room for their party (`waitlist_join`).
* When seats free up (a cancellation, fewer travellers, more seats, a departure reopened),
  `seats_freed_on_commit` queues an offer round for the departure. `waitlist_offer_round`
  expires overdue offers, then walks the line in order and gives every entry that fits
  the free seats an offer: the seats are held on the departure (`seats_held`, which the
  sale and the CHECK constraint count) at the price of that moment, for
  WAITLIST_OFFER_HOURS; the email and the in-app notice are recorded in the same
  transaction (sent exactly once by mail.delivery and the outbox).
* Accepting books the held seats at the held price; declining or expiring releases them
  and queues the next round.

Every step is one transaction that locks the departure row first (then the entries), so
two rounds, a sale and an acceptance never see the same free seat. A round keeps no
state outside PostgreSQL: a worker killed mid-way rolls its transaction back, and the
next round (queued again, or the beat sweep every minute) recomputes from the rows.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import IntegrityError, InterfaceError, OperationalError, transaction
from django.urls import reverse
from django.utils import timezone

from bookings.jobs import in_app_notify
from bookings.models import (
    WAITLIST_LIVE,
    Booking,
    Departure,
    DepartureStatus,
    Trip,
    TripListing,
    WaitlistEntry,
    WaitlistStatus,
)
from bookings.policy import money
from bookings.services.bookings import booking_insert
from bookings.services.common import local_today, travellers_check
from mail.delivery import mail_notification
from taskforge.dbcontext import context_for_system, db_context
from taskforge.errors import Conflict, NotFound, ServiceError
from taskforge.tasks_util import enqueue_on_commit

logger = logging.getLogger(__name__)

# The booking made by accepting an offer has a key derived from the entry: accepting twice
# (a double click, a retried request) finds the same booking.
_ACCEPT_NAMESPACE = uuid.UUID("6f1d3a52-55a4-4c53-9f7e-6a3b0b7f2c11")


def seats_freed_on_commit(departure_id: int) -> None:
    """Seats of the departure may have come free: run an offer round after the commit."""
    enqueue_on_commit(waitlist_offers, departure_id)


def _departure_locked(departure_id: int) -> Departure:
    departure = Departure.objects.select_for_update(of=("self",)).filter(pk=departure_id).first()
    if departure is None:
        raise NotFound("No such departure.")
    return departure


# --- the traveller's side -------------------------------------------------------------------


def waitlist_join(*, actor: Any, trip_code: str, travel_date: dt.date, travellers: Any) -> WaitlistEntry:
    """Join the waiting list of a departure that has no room for `travellers` now."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        raise NotFound("Sign in to join the waiting list.")
    count = travellers_check(travellers)
    with transaction.atomic():
        departure = (
            Departure.objects.select_for_update(of=("self",)).filter(trip__code=trip_code, date=travel_date).first()
        )
        if departure is None or not Trip.objects.filter(code=trip_code, active=True).exists():
            raise NotFound("No such departure.")
        if not departure.is_open or departure.date <= local_today():
            raise ServiceError("This departure is not open; its waiting list is closed.", field="travel_date")
        if departure.seats_left >= count:
            raise Conflict("There is room on this departure: book it instead.", field="travellers")
        if WaitlistEntry.objects.filter(user=actor, departure=departure, status__in=WAITLIST_LIVE).exists():
            raise Conflict("You are already on this departure's waiting list.")
        try:
            with transaction.atomic():
                entry = WaitlistEntry.objects.create(user=actor, departure=departure, travellers=count)
        except IntegrityError:  # the same traveller joining twice at once
            raise Conflict("You are already on this departure's waiting list.") from None
    return entry


def _entry_locked(actor: Any, entry_id: int) -> tuple[WaitlistEntry, Departure]:
    """The actor's entry and its departure, locked departure first (the order every step uses)."""
    entry = WaitlistEntry.objects.filter(pk=entry_id, user_id=getattr(actor, "pk", None)).first()
    if entry is None:
        raise NotFound("No such waiting-list entry.")
    departure = _departure_locked(entry.departure_id)
    entry = WaitlistEntry.objects.select_for_update().get(pk=entry.pk)
    return entry, departure


def waitlist_accept(*, actor: Any, entry_id: int) -> Booking:
    """Book the held seats at the held price. A second call returns the same booking."""
    with transaction.atomic():
        entry, departure = _entry_locked(actor, entry_id)
        if entry.status == WaitlistStatus.ACCEPTED and entry.booking_id:
            return Booking.objects.get(pk=entry.booking_id)
        if entry.status != WaitlistStatus.OFFERED:
            raise Conflict("There is no offer to accept on this entry.")
        if not entry.is_live_offer:
            raise Conflict("This offer has expired; the seats went to the next traveller in line.")
        # The hold goes first: the CHECK constraint counts bookings and holds together.
        departure.seats_held -= entry.travellers
        departure.save(update_fields=["seats_held"])
        trip = Trip.objects.get(pk=departure.trip_id)
        booking = booking_insert(
            actor=actor,
            trip=trip,
            departure=departure,
            travellers=entry.travellers,
            unit_price_minor=entry.offer_unit_price_minor,
            idempotency_key=uuid.uuid5(_ACCEPT_NAMESPACE, str(entry.pk)),
        )  # takes the seats on the departure
        entry.status = WaitlistStatus.ACCEPTED
        entry.booking = booking
        entry.closed_at = timezone.now()
        entry.save(update_fields=["status", "booking", "closed_at"])
    return booking


def waitlist_decline(*, actor: Any, entry_id: int) -> WaitlistEntry:
    """Decline an offer (its seats pass on) or leave the line."""
    with transaction.atomic():
        entry, departure = _entry_locked(actor, entry_id)
        if entry.status not in WAITLIST_LIVE:
            raise Conflict("This entry is no longer on the waiting list.")
        if entry.status == WaitlistStatus.OFFERED:
            departure.seats_held = max(departure.seats_held - entry.travellers, 0)
            departure.save(update_fields=["seats_held"])
            entry.status = WaitlistStatus.DECLINED
            seats_freed_on_commit(departure.pk)
        else:
            entry.status = WaitlistStatus.WITHDRAWN
        entry.closed_at = timezone.now()
        entry.save(update_fields=["status", "closed_at"])
    return entry


# --- offers ----------------------------------------------------------------------------------


def _offer_notify(entry: WaitlistEntry, departure: Departure, trip: Trip) -> None:
    name = TripListing.objects.filter(code=trip.code).values_list("name", flat=True).first() or trip.code
    url = reverse("bookings:waitlist_entry", kwargs={"entry_id": entry.pk})
    expires = timezone.localtime(entry.offer_expires_at)
    price = money(entry.offer_unit_price_minor, trip.currency)
    summary = (
        f"Seats for {entry.travellers} on {name}, {departure.date.isoformat()}, are held for you at {price} per "
        f"person until {expires:%d %b %Y %H:%M}. Accept the offer to book them."
    )
    mail_notification(
        user_id=entry.user_id,
        kind="waitlist_offer",
        summary=summary,
        url=url,
        idempotency_key=f"waitlist:{entry.pk}:offer",
        context={
            "trip_name": name,
            "start_date": departure.date.isoformat(),
            "travellers": entry.travellers,
            "price": price,
            "total": money(entry.offer_unit_price_minor * entry.travellers, trip.currency),
            "expires": f"{expires:%d %b %Y %H:%M}",
        },
    )
    in_app_notify(
        notification_id=f"waitlist-{entry.pk}-offer",
        user_id=entry.user_id,
        kind="waitlist_offer",
        title=f"{name}, {departure.date.isoformat()}",
        message=f"Seats are held for you until {expires:%d %b %H:%M}: accept the offer to book.",
        url=url,
    )


def waitlist_offer_round(departure_id: int) -> list[int]:
    """Expire overdue offers, then offer the free seats to the first entries that fit, in line.
    Returns the ids of the entries offered. One transaction; runs as the system (the line
    holds other travellers' entries)."""
    offered: list[int] = []
    with db_context(context_for_system("bookings.waitlist_offers")), transaction.atomic():
        departure = Departure.objects.select_for_update(of=("self",)).filter(pk=departure_id).first()
        if departure is None:
            return offered
        now = timezone.now()
        line = list(
            WaitlistEntry.objects.select_for_update()
            .filter(departure=departure, status__in=WAITLIST_LIVE)
            .order_by("created_at", "id")
        )
        for entry in line:
            if entry.status == WaitlistStatus.OFFERED and entry.offer_expires_at <= now:
                departure.seats_held = max(departure.seats_held - entry.travellers, 0)
                entry.status = WaitlistStatus.EXPIRED
                entry.closed_at = now
                entry.save(update_fields=["status", "closed_at"])
        if departure.status == DepartureStatus.OPEN and departure.date > local_today():
            trip = Trip.objects.get(pk=departure.trip_id)
            unit = departure.unit_price_minor(trip)
            hours = settings.WAITLIST_OFFER_HOURS
            for entry in line:
                if entry.status != WaitlistStatus.WAITING or entry.travellers > departure.seats_left:
                    continue
                departure.seats_held += entry.travellers
                entry.status = WaitlistStatus.OFFERED
                entry.offered_at = now
                entry.offer_expires_at = now + dt.timedelta(hours=hours)
                entry.offer_unit_price_minor = unit
                entry.save(update_fields=["status", "offered_at", "offer_expires_at", "offer_unit_price_minor"])
                _offer_notify(entry, departure, trip)
                offered.append(entry.pk)
        departure.save(update_fields=["seats_held"])
    return offered


def waitlist_departures_due() -> list[int]:
    """Departures whose line may move: an offer past its expiry, or someone waiting while
    seats are free (a round that was never queued, or whose worker died)."""
    now = timezone.now()
    with db_context(context_for_system("bookings.waitlist_sweep")):
        expired = WaitlistEntry.objects.filter(status=WaitlistStatus.OFFERED, offer_expires_at__lte=now)
        waiting = WaitlistEntry.objects.filter(
            status=WaitlistStatus.WAITING, departure__status=DepartureStatus.OPEN, departure__date__gt=local_today()
        )
        ids = set(expired.values_list("departure_id", flat=True))
        for departure_id, travellers, capacity, taken, held in waiting.values_list(
            "departure_id", "travellers", "departure__capacity", "departure__seats_taken", "departure__seats_held"
        ):
            if travellers <= capacity - taken - held:
                ids.add(departure_id)
    return sorted(ids)


_TRANSIENT = (OperationalError, InterfaceError)


@shared_task(
    name="notifications.waitlist_offers",
    autoretry_for=_TRANSIENT,
    retry_backoff=True,
    max_retries=5,
    acks_late=True,
    reject_on_worker_lost=True,
    time_limit=120,
    soft_time_limit=100,
)
def waitlist_offers(departure_id: int) -> list[int]:
    return waitlist_offer_round(departure_id)


@shared_task(name="notifications.waitlist_sweep", time_limit=300, soft_time_limit=280)
def waitlist_sweep() -> int:
    """Beat job: run the round of every departure whose line may move (idempotent)."""
    due = waitlist_departures_due()
    for departure_id in due:
        try:
            waitlist_offer_round(departure_id)
        except Exception:
            logger.exception("waiting-list round of departure %s failed; the next sweep retries", departure_id)
    return len(due)
