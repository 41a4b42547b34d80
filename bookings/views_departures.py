"""Views of a trip's departures (thin: parse, call, render): the staff list where catalogue
editors add and change departures and editors or the booking desk cancel one, and the
traveller's choice on a booking of a cancelled departure (a full refund or a move)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import Capability
from bookings import selectors
from bookings import selectors_departures as departure_selectors
from bookings.forms import DepartureCancelForm, DepartureForm, DepartureMoveForm, WaitlistJoinForm, price_input
from bookings.models import Booking, Trip
from bookings.services import departures as departure_services
from bookings.services import waitlist as waitlist_services
from taskforge.decorators import capability_required, signed_in
from taskforge.errors import NotFound, ServiceError, form_refusal

STAFF = (Capability.CATALOGUE_EDITOR, Capability.BOOKING_DESK)


def _trip_or_404(code: str) -> Trip:
    trip = Trip.objects.filter(code=code).first()
    if trip is None:
        raise Http404("There is no trip with this code.")
    return trip


def _editor_only(request: HttpRequest) -> None:
    # The booking desk sees the departures (to cancel one) but does not change them: 403.
    if not request.user.has_capability(Capability.CATALOGUE_EDITOR):
        raise PermissionDenied("Only catalogue editors change departures.")


def _staff_page(
    request: HttpRequest, trip: Trip, *, add_form: Any = None, refused: Any = None, status: int = 200
) -> HttpResponse:
    rows = departure_selectors.staff_departures(request.user, trip)
    forms = {
        row.pk: DepartureForm(
            editing=True,
            prefix=f"d{row.pk}",
            initial={
                "seats": row.departure.capacity,
                "price": price_input(row.departure.price_minor) if row.departure.price_minor else None,
                "status": row.departure.status if not row.departure.is_cancelled else "closed",
            },
        )
        for row in rows
    }
    if refused is not None:
        forms[refused[0]] = refused[1]
    context = {
        "trip": trip,
        "trip_name": selectors.trip_names([trip.code]).get(trip.code, trip.code),
        "rows": [(row, forms[row.pk]) for row in rows],
        "add_form": add_form or DepartureForm(initial={"seats": trip.seats, "status": "open"}),
        "cancel_form": DepartureCancelForm(),
        "is_editor": request.user.has_capability(Capability.CATALOGUE_EDITOR),
    }
    return render(request, "trips/departures.html", context, status=status)


@require_http_methods(["GET", "POST"])
@capability_required(*STAFF)
def staff_departures(request: HttpRequest, code: str) -> HttpResponse:
    """A trip's departures; POST adds one (catalogue editors)."""
    trip = _trip_or_404(code)
    if request.method == "GET":
        return _staff_page(request, trip)
    _editor_only(request)
    form = DepartureForm(request.POST)
    if not form.is_valid():
        return _staff_page(request, trip, add_form=form, status=400)
    data = form.cleaned_data
    try:
        departure = departure_services.departure_add(
            actor=request.user,
            trip_code=code,
            date=data["date"],
            seats=data["seats"],
            price_minor=data["price"],
            status=data["status"],
        )
    except ServiceError as exc:
        return _staff_page(request, trip, add_form=form, status=form_refusal(form, exc))
    messages.success(request, f"Departure on {departure.date:%d %b %Y} added.")
    return redirect("bookings:staff_departures", code=code)


def _departure_or_404(request: HttpRequest, departure_id: int) -> departure_selectors.DepartureRow:
    row = departure_selectors.departure_for_staff(request.user, departure_id)
    if row is None:
        raise Http404("No such departure.")
    return row


@require_POST
@capability_required(*STAFF)
def staff_departure_edit(request: HttpRequest, departure_id: int) -> HttpResponse:
    row = _departure_or_404(request, departure_id)
    _editor_only(request)
    form = DepartureForm(request.POST, editing=True, prefix=f"d{row.pk}")
    if not form.is_valid():
        return _staff_page(request, row.trip, refused=(row.pk, form), status=400)
    data = form.cleaned_data
    try:
        departure_services.departure_update(
            actor=request.user,
            departure_id=row.pk,
            seats=data["seats"],
            price_minor=data["price"],
            status=data["status"],
        )
    except ServiceError as exc:
        return _staff_page(request, row.trip, refused=(row.pk, form), status=form_refusal(form, exc))
    messages.success(request, f"Departure on {row.date:%d %b %Y} saved.")
    return redirect("bookings:staff_departures", code=row.trip.code)


@require_POST
@capability_required(*STAFF)
def staff_departure_cancel(request: HttpRequest, departure_id: int) -> HttpResponse:
    row = _departure_or_404(request, departure_id)
    form = DepartureCancelForm(request.POST)
    if form.is_valid():
        try:
            departure_services.departure_cancel(
                actor=request.user, departure_id=row.pk, reason=form.cleaned_data["reason"]
            )
        except ServiceError as exc:
            status = form_refusal(form, exc)
        else:
            messages.success(request, f"Departure on {row.date:%d %b %Y} cancelled; its travellers will be told.")
            return redirect("bookings:staff_departures", code=row.trip.code)
    else:
        status = 400
    for error in form.errors.get("reason", []) + form.non_field_errors():
        messages.error(request, error)
    return _staff_page(request, row.trip, status=status)


# --- the traveller's choice after a departure is cancelled ---------------------------------


def departure_choice_context(booking: Booking) -> dict[str, Any]:
    """For the booking page: the booking's departure and, when it was cancelled, the choice."""
    departure = departure_selectors.departure_of_booking(booking)
    needs_choice = departure_selectors.booking_needs_choice(booking, departure)
    context: dict[str, Any] = {"departure": departure, "needs_choice": needs_choice}
    if needs_choice:
        choices = departure_selectors.move_choices(booking)
        context["move_form"] = DepartureMoveForm(
            choices=[(row.pk, f"{row.date:%a %d %b %Y} ({row.seats_left} seats left)") for row in choices]
        )
    return context


def _own_or_desk_booking(request: HttpRequest, booking_id: int) -> Booking:
    row = selectors.booking_for_viewer(request.user, booking_id)
    if row is None:
        raise Http404("No such booking.")
    return row.booking


@require_POST
@signed_in
def booking_departure_refund(request: HttpRequest, booking_id: int) -> HttpResponse:
    _own_or_desk_booking(request, booking_id)
    # A refusal (departure not cancelled, already cancelled) is answered by the middleware.
    departure_services.booking_departure_refund(actor=request.user, booking_id=booking_id)
    messages.success(request, "Your booking is cancelled with a full refund.")
    return redirect("bookings:booking_detail", booking_id=booking_id)


def _choice_refused(request: HttpRequest, booking: Booking, form: Any, status: int) -> HttpResponse:
    """The choice again, with the refusal, as a page of its own (nothing changed)."""
    context = {"booking": booking, **departure_choice_context(booking)}
    if form is not None:
        context["move_form"] = form
    return render(request, "bookings/departure_choice.html", context, status=status)


@require_POST
@signed_in
def booking_departure_move(request: HttpRequest, booking_id: int) -> HttpResponse:
    booking = _own_or_desk_booking(request, booking_id)
    choices = [(row.pk, f"{row.date:%a %d %b %Y}") for row in departure_selectors.move_choices(booking)]
    form = DepartureMoveForm(request.POST, choices=choices)
    if not form.is_valid():
        return _choice_refused(request, booking, form, 400)
    try:
        moved = departure_services.booking_departure_move(
            actor=request.user, booking_id=booking_id, departure_id=form.cleaned_data["departure"]
        )
    except ServiceError as exc:
        status = form_refusal(form, exc)
        return _choice_refused(request, booking, form, status)
    messages.success(request, f"Your booking is moved to the departure on {moved.travel_date:%d %b %Y}.")
    return redirect("bookings:booking_detail", booking_id=booking_id)


# --- the waiting list ----------------------------------------------------------------------------


@require_POST
@signed_in
def waitlist_join(request: HttpRequest, code: str) -> HttpResponse:
    """Join a full departure's waiting list (from the trip page)."""
    form = WaitlistJoinForm(request.POST)
    if form.is_valid():
        try:
            entry = waitlist_services.waitlist_join(
                actor=request.user,
                trip_code=code,
                travel_date=form.cleaned_data["travel_date"],
                travellers=form.cleaned_data["travellers"],
            )
        except NotFound:
            raise
        except ServiceError as exc:
            status = form_refusal(form, exc)
        else:
            messages.success(request, "You are on the waiting list; we will email you when seats come free.")
            return redirect("bookings:waitlist_entry", entry_id=entry.pk)
    else:
        status = 400
    context = {"form": form, "trip": _trip_or_404(code)}
    return render(request, "bookings/waitlist_join.html", context, status=status)


@require_http_methods(["GET", "POST"])
@signed_in
def waitlist_entry(request: HttpRequest, entry_id: int) -> HttpResponse:
    """The traveller's place in line, and the offer when there is one: POST action=accept|decline."""
    entry = departure_selectors.waitlist_entry_for_owner(request.user, entry_id)
    if entry is None:
        raise Http404("No such waiting-list entry.")
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "accept":
            # A refusal (expired, no offer) is answered by the middleware.
            booking = waitlist_services.waitlist_accept(actor=request.user, entry_id=entry.pk)
            messages.success(request, "Booked: the held seats are yours.")
            return redirect("bookings:booking_detail", booking_id=booking.pk)
        if action == "decline":
            waitlist_services.waitlist_decline(actor=request.user, entry_id=entry.pk)
            messages.success(request, "Done: you are off this waiting list.")
            return redirect("bookings:waitlist_entry", entry_id=entry.pk)
        return render(request, "bookings/waitlist_entry.html", {"entry": entry, "bad_action": True}, status=400)
    return render(request, "bookings/waitlist_entry.html", {"entry": entry})


@require_http_methods(["GET"])
@capability_required(Capability.BOOKING_DESK)
def staff_waitlist(request: HttpRequest, departure_id: int) -> HttpResponse:
    row = _departure_or_404(request, departure_id)
    entries = departure_selectors.waitlist_for_staff(request.user, row.departure)
    return render(request, "bookings/staff_waitlist.html", {"row": row, "entries": entries})
