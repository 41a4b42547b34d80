"""Writes of the bookings app: trips (PostgreSQL row + outbox event for the document and
projection) and bookings (seat inventory locked per departure, RLS-protected rows).

Every function takes keyword-only arguments, runs in one transaction and queues its side
effects (outbox fast path, emails) for after the commit. Refusals raise ServiceError with
a message for the user, the form field it concerns and an HTTP status.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Capability
from accounts.permissions import capability_has
from audit.services import audit_content_record
from bookings.documents import TripContent, trip_payload
from bookings.images import StoredImage, trip_image_delete
from bookings.jobs import booking_cancelled, booking_confirmed
from bookings.models import (
    TRIP_CODE_MESSAGE,
    TRIP_CODE_PATTERN,
    Booking,
    BookingStatus,
    Currency,
    Departure,
    Trip,
)
from bookings.policy import (
    TRAVELLERS_AT_LEAST_ONE,
    TRAVELLERS_WHOLE_NUMBER,
    ReductionQuote,
    Refund,
    booking_total,
    money,
    reduction_quote,
    refund_quote,
    travellers_at_most_message,
)
from bookings.sync import TRIP_AGGREGATE
from sync.outbox import outbox_record
from taskforge.errors import Conflict, NotFound, ServiceError
from taskforge.tasks_util import enqueue_on_commit

PAYMENT_REFERENCE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._/#-]{0,99}$")
MAX_PRICE_MINOR = 100_000_000  # 1,000,000.00 per person: anything above is a typo
MAX_SEATS = 10_000


TRIP_CODE_FIXED_MESSAGE = "The code of a trip cannot change; create a new trip for a new code."


def _today() -> dt.date:
    return timezone.localdate()


def _require(actor: Any, capability: Capability) -> None:
    """Catalogue and booking-desk actions: to anyone without the capability they do not exist."""
    if not capability_has(actor, capability):
        raise NotFound("Not found.")


# --- trips -----------------------------------------------------------------------------


def _emit(trip: Trip, payload: dict[str, Any], *, old: dict | None, event_type: str) -> None:
    # Content changes in MongoDB are audited in the transaction of their outbox event.
    operation = "INSERT" if old is None else "UPDATE"
    audit_content_record(table="trip_document", record_id=trip.code, operation=operation, old=old, new=payload)
    outbox_record(
        aggregate_type=TRIP_AGGREGATE,
        aggregate_id=trip.code,
        version=trip.version,
        event_type=event_type,
        payload=payload,
    )


def _validate_trip_facts(*, price_minor: int, currency: str, seats: int, length_days: int) -> None:
    if not 0 < price_minor <= MAX_PRICE_MINOR:
        raise ServiceError("Enter a price above zero and at most 1,000,000.", field="price")
    if currency not in Currency.values:
        raise ServiceError("Choose a supported currency.", field="currency")
    if not 0 < seats <= MAX_SEATS:
        raise ServiceError(f"Seats per departure must be between 1 and {MAX_SEATS}.", field="seats")
    if not 0 < length_days <= 365:
        raise ServiceError("The length must be between 1 and 365 days.", field="length_days")


def trip_create(
    *,
    actor: Any,
    code: str,
    content: TripContent,
    start: dt.date,
    length_days: int,
    price_minor: int,
    currency: str,
    seats: int,
    image: StoredImage,
) -> Trip:
    """Create a trip and its departure; the document and projection follow through the outbox."""
    _require(actor, Capability.CATALOGUE_EDITOR)
    if not re.match(TRIP_CODE_PATTERN, code or ""):
        raise ServiceError(TRIP_CODE_MESSAGE, field="code")
    if start <= _today():
        raise ServiceError("The start date must be in the future.", field="start")
    _validate_trip_facts(price_minor=price_minor, currency=currency, seats=seats, length_days=length_days)
    try:
        with transaction.atomic():
            if Trip.objects.filter(code=code).exists():
                raise ServiceError(f"A trip with the code {code} already exists.", field="code")
            now = timezone.now()
            trip = Trip.objects.create(
                code=code,
                price_minor=price_minor,
                currency=currency,
                seats=seats,
                start=start,
                length_days=length_days,
                active=True,
                version=1,
                created_at=now,
                updated_at=now,
            )
            Departure.objects.create(trip=trip, date=start, capacity=seats, seats_taken=0)
            payload = trip_payload(trip, content, image.image, image.thumbnail)
            _emit(trip, payload, old=None, event_type="trip.created")
    except IntegrityError as exc:  # a concurrent create of the same code
        raise ServiceError(f"A trip with the code {code} already exists.", field="code") from exc
    return trip


def trip_update(
    *,
    actor: Any,
    trip_code: str,
    expected_version: int,
    current_state: dict[str, Any],
    content: TripContent,
    start: dt.date,
    length_days: int,
    price_minor: int,
    currency: str,
    seats: int,
    image: StoredImage | None,
    code: str | None = None,
) -> Trip:
    """Edit a trip. `current_state` is the document at `expected_version` (selectors.trip_state);
    a concurrent edit (version moved on) is refused rather than silently overwritten. The code
    never changes: `code`, when the form sent one, must be the trip's own."""
    _require(actor, Capability.CATALOGUE_EDITOR)
    if code and code != trip_code:
        raise ServiceError(TRIP_CODE_FIXED_MESSAGE, field="code")
    _validate_trip_facts(price_minor=price_minor, currency=currency, seats=seats, length_days=length_days)
    with transaction.atomic():
        trip = Trip.objects.select_for_update().filter(code=trip_code).first()
        if trip is None:
            raise NotFound("No such trip.")
        if trip.version != expected_version:
            raise Conflict("Someone else changed this trip meanwhile. Reload the page to see their changes.")
        departure = Departure.objects.select_for_update().get(trip=trip)
        if start != trip.start:
            if departure.seats_taken:
                raise ServiceError(
                    f"{departure.seats_taken} seats are booked on this departure, so its date cannot move. "
                    "Cancel or move those bookings first.",
                    field="start",
                )
            if start <= _today():
                raise ServiceError("The start date must be in the future.", field="start")
        if seats < departure.seats_taken:
            raise ServiceError(
                f"{departure.seats_taken} seats are already booked; seats cannot go below that.", field="seats"
            )
        now = timezone.now()
        trip.start, trip.length_days, trip.price_minor = start, length_days, price_minor
        trip.currency, trip.seats = currency, seats
        trip.version += 1
        trip.updated_at = now
        trip.save()
        departure.date, departure.capacity = start, seats
        departure.save(update_fields=["date", "capacity"])
        new_image = image.image if image else current_state.get("image", "")
        new_thumb = image.thumbnail if image else current_state.get("thumbnail", "")
        payload = trip_payload(trip, content, new_image, new_thumb)
        _emit(trip, payload, old=current_state, event_type="trip.updated")
        if image and current_state.get("image"):
            old = StoredImage(current_state.get("image", ""), current_state.get("thumbnail", ""))
            transaction.on_commit(lambda: trip_image_delete(old))
    return trip


def trip_set_active(*, actor: Any, trip_code: str, active: bool, current_state: dict[str, Any]) -> Trip:
    """Deactivate (take off sale) or reactivate a trip. Existing bookings are kept."""
    _require(actor, Capability.CATALOGUE_EDITOR)
    with transaction.atomic():
        trip = Trip.objects.select_for_update().filter(code=trip_code).first()
        if trip is None:
            raise NotFound("No such trip.")
        if trip.active == active:
            return trip
        if current_state.get("version") not in (None, trip.version):
            raise Conflict("Someone else changed this trip meanwhile. Reload and try again.")
        trip.active = active
        trip.version += 1
        trip.updated_at = timezone.now()
        trip.save(update_fields=["active", "version", "updated_at"])
        content = TripContent(
            name=current_state["name"],
            resort=current_state["resort"],
            description_md=current_state.get("description_md", ""),
            keywords=list(current_state.get("keywords", [])),
            itinerary=list(current_state.get("itinerary", [])),
        )
        payload = trip_payload(trip, content, current_state.get("image", ""), current_state.get("thumbnail", ""))
        _emit(trip, payload, old=current_state, event_type="trip.activated" if active else "trip.deactivated")
    return trip


# --- bookings ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Quote:
    """The price of a prospective booking, computed on the server."""

    unit_price_minor: int
    travellers: int
    total_minor: int
    currency: str
    seats_left: int

    @property
    def total_display(self) -> str:
        return money(self.total_minor, self.currency)


def _check_travellers(travellers: Any) -> int:
    try:
        value = int(travellers)
    except (TypeError, ValueError):
        raise ServiceError(TRAVELLERS_WHOLE_NUMBER, field="travellers") from None
    if value < 1:
        raise ServiceError(TRAVELLERS_AT_LEAST_ONE, field="travellers")
    if value > settings.BOOKING_MAX_TRAVELLERS:
        raise ServiceError(travellers_at_most_message(), field="travellers")
    return value


def _bookable_trip(trip_code: str, travel_date: dt.date | None) -> Trip:
    trip = Trip.objects.filter(code=trip_code).first()
    if trip is None:
        raise NotFound("There is no trip with this code.")
    if not trip.active:
        raise ServiceError("This trip is no longer on sale.", status=409)
    if trip.start <= _today():
        raise ServiceError("This departure has already left; bookings are closed.", field="travel_date")
    if travel_date is not None and travel_date != trip.start:
        raise ServiceError("Choose one of the trip's departure dates.", field="travel_date")
    return trip


def booking_quote(*, trip_code: str, travel_date: dt.date | None, travellers: Any) -> Quote:
    """Price and availability of a prospective booking (no locks; the booking re-checks)."""
    count = _check_travellers(travellers)
    trip = _bookable_trip(trip_code, travel_date)
    departure = Departure.objects.filter(trip=trip, date=trip.start).first()
    seats_left = departure.seats_left if departure else 0
    return Quote(trip.price_minor, count, booking_total(trip.price_minor, count), trip.currency, seats_left)


def booking_create(
    *,
    actor: Any,
    trip_code: str,
    travel_date: dt.date,
    travellers: Any,
    idempotency_key: uuid.UUID,
    expected_total_minor: int | None,
) -> tuple[Booking, bool]:
    """Book seats for the actor. Returns (booking, created); a repeated idempotency key
    returns the first booking (created=False) instead of booking twice.

    The departure row is locked FOR UPDATE before seats are counted, so concurrent
    bookings of the same departure run one after the other and cannot oversell it.
    Seats are counted on that row, not by counting bookings, because RLS hides other
    travellers' bookings from this connection.
    """
    if actor is None or not getattr(actor, "is_authenticated", False):
        raise NotFound("Sign in to book.")
    count = _check_travellers(travellers)
    try:
        with transaction.atomic():
            departure = (
                Departure.objects.select_for_update(of=("self",)).filter(trip__code=trip_code, date=travel_date).first()
            )
            if departure is None:
                _bookable_trip(trip_code, travel_date)  # says why: unknown, off sale, departed, wrong date
                raise ServiceError("Choose one of the trip's departure dates.", field="travel_date")
            # Under the lock: a duplicate submit that won the race has committed by now.
            existing = Booking.objects.filter(user=actor, idempotency_key=idempotency_key).first()
            if existing is not None:
                return existing, False
            trip = _bookable_trip(trip_code, travel_date)  # fresh facts under the departure lock
            total = booking_total(trip.price_minor, count)
            if expected_total_minor is None:
                raise ServiceError("Review the price before confirming.", field="expected_total")
            if expected_total_minor != total:
                raise ServiceError(
                    f"The total sent with the form does not match the price ({money(total, trip.currency)} for "
                    f"{count} traveller{'s' if count != 1 else ''}). Nothing was booked; please review and confirm "
                    "again.",
                    field="expected_total",
                )
            if departure.seats_left < count:
                left = departure.seats_left
                raise Conflict(
                    "This departure is sold out."
                    if left == 0
                    else f"Only {left} seat{'s' if left != 1 else ''} left on this departure.",
                    field="travellers",
                )
            now = timezone.now()
            booking = Booking.objects.create(
                user=actor,
                trip=trip,
                booking_date=now,
                travel_date=travel_date,
                travellers=count,
                unit_price_minor=trip.price_minor,
                total_minor=total,
                currency=trip.currency,
                status=BookingStatus.PENDING,
                idempotency_key=idempotency_key,
                created_at=now,
                updated_at=now,
            )
            departure.seats_taken += count
            departure.save(update_fields=["seats_taken"])
    except IntegrityError:
        # The same key committed by a concurrent request for another departure.
        existing = Booking.objects.filter(user=actor, idempotency_key=idempotency_key).first()
        if existing is None:
            raise
        return existing, False
    return booking, True


def _booking_for_update(actor: Any, booking_id: int) -> Booking:
    """The booking, locked, if the actor may change it (owner or booking desk; RLS enforces the same)."""
    qs = Booking.objects.select_for_update()
    if not capability_has(actor, Capability.BOOKING_DESK):
        qs = qs.filter(user_id=getattr(actor, "pk", None))
    booking = qs.filter(pk=booking_id).first()
    if booking is None:
        raise NotFound("No such booking.")
    return booking


def _release_seats(booking: Booking, seats: int) -> None:
    departure = (
        Departure.objects.select_for_update(of=("self",))
        .filter(trip__code=booking.trip_id, date=booking.travel_date)
        .first()
    )
    if departure is not None:
        departure.seats_taken = max(departure.seats_taken - seats, 0)
        departure.save(update_fields=["seats_taken"])


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
        raise ServiceError("Give a reason for the cancellation.", field="reason")
    if len(reason) > 500:
        raise ServiceError("Keep the reason under 500 characters.", field="reason")
    with transaction.atomic():
        booking = _booking_for_update(actor, booking_id)
        if booking.status == BookingStatus.CANCELLED:
            raise Conflict("This booking is already cancelled.")
        today = _today()
        if not is_staff and booking.travel_date <= today:
            raise ServiceError("The trip has started; contact us to cancel.")
        if is_staff and full_refund:
            refund_minor = booking.total_minor
        else:
            refund_minor = (booking.refund_minor or 0) + cancellation_refund(booking, today=today).amount_minor
        _release_seats(booking, booking.travellers)
        now = timezone.now()
        booking.status = BookingStatus.CANCELLED
        booking.refund_minor = refund_minor
        booking.cancel_reason = reason or "Cancelled by the traveller."
        booking.cancelled_at = now
        booking.updated_at = now
        booking.save(update_fields=["status", "refund_minor", "cancel_reason", "cancelled_at", "updated_at"])
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
    count = _check_travellers(travellers)
    qs = Booking.objects.all()
    if not capability_has(actor, Capability.BOOKING_DESK):
        qs = qs.filter(user_id=getattr(actor, "pk", None))
    booking = qs.filter(pk=booking_id).first()
    if booking is None:
        raise NotFound("No such booking.")
    return _reduction_check(booking, count, _today())


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
    count = _check_travellers(travellers)
    with transaction.atomic():
        booking = _booking_for_update(actor, booking_id)
        quote = _reduction_check(booking, count, _today())
        if expected_refund_minor is not None and expected_refund_minor != quote.refund.amount_minor:
            raise Conflict(
                "The refund for this change is now "
                f"{money(quote.refund.amount_minor, booking.currency)} ({quote.refund.percent}%), "
                "not what you were shown. Review it and confirm again."
            )
        _release_seats(booking, quote.removed)
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
            _release_seats(booking, booking.travellers)
            released += booking.travellers
            booking.status = BookingStatus.CANCELLED
            booking.refund_minor = booking.refund_minor or 0
            booking.cancel_reason = "Cancelled: the traveller's account was erased."
            booking.cancelled_at = now
            booking.updated_at = now
            booking.save(update_fields=["status", "refund_minor", "cancel_reason", "cancelled_at", "updated_at"])
    return {"bookings_cancelled": len(pending), "seats_released": released}


def booking_confirm(*, actor: Any, booking_id: int) -> Booking:
    """Staff confirm a pending booking; the traveller gets a confirmation email after commit."""
    _require(actor, Capability.BOOKING_DESK)
    with transaction.atomic():
        booking = _booking_for_update(actor, booking_id)
        if booking.status != BookingStatus.PENDING:
            raise Conflict(f"Only pending bookings can be confirmed (this one is {booking.status}).")
        now = timezone.now()
        booking.status = BookingStatus.CONFIRMED
        booking.confirmed_at = now
        booking.updated_at = now
        booking.save(update_fields=["status", "confirmed_at", "updated_at"])
        enqueue_on_commit(booking_confirmed, booking.pk)
    return booking


def booking_record_payment(*, actor: Any, booking_id: int, reference: str) -> Booking:
    """Staff record the payment reference of a booking."""
    _require(actor, Capability.BOOKING_DESK)
    reference = (reference or "").strip()
    if not PAYMENT_REFERENCE_RE.match(reference):
        raise ServiceError(
            "Enter a payment reference of up to 100 letters, digits, spaces or . _ / # -", field="reference"
        )
    with transaction.atomic():
        booking = _booking_for_update(actor, booking_id)
        if booking.status == BookingStatus.CANCELLED:
            raise Conflict("This booking is cancelled.")
        booking.payment_reference = reference
        booking.updated_at = timezone.now()
        booking.save(update_fields=["payment_reference", "updated_at"])
    return booking
