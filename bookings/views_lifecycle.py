"""Views of the booking lifecycle: the travellers' details form and the printable receipt
(thin: parse, call a service or selector, render). Payments are recorded from the booking
page (bookings.views.staff_payment)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from bookings import selectors, services
from bookings.forms import PaymentForm, price_input, traveller_formset
from bookings.models import Booking
from bookings.selectors_lifecycle import booking_lifecycle
from taskforge.decorators import signed_in
from taskforge.errors import ServiceError


def lifecycle_context(booking: Booking) -> dict[str, Any]:
    """What the booking page shows of payments, balance, receipt and travellers, and the
    booking desk's payment form (the balance due filled in)."""
    lifecycle = booking_lifecycle(booking)
    initial = {"amount": price_input(lifecycle.balance_due_minor)} if lifecycle.balance_due_minor > 0 else {}
    return {"lifecycle": lifecycle, "payment_form": PaymentForm(initial=initial)}


def _row_or_404(request: HttpRequest, booking_id: int) -> selectors.BookingRow:
    row = selectors.booking_for_viewer(request.user, booking_id)
    if row is None:
        raise Http404("No such booking.")
    return row


@require_http_methods(["GET", "POST"])
@signed_in
def booking_travellers(request: HttpRequest, booking_id: int) -> HttpResponse:
    """The travellers' names and details: one form per traveller booked. A refusal (the
    deadline passed, a rule broken) shows the form again as it was filled in."""
    row = _row_or_404(request, booking_id)
    booking = row.booking
    lifecycle = booking_lifecycle(booking)
    initial = [
        {
            "full_name": t.full_name,
            "date_of_birth": t.date_of_birth,
            "nationality": t.nationality,
            "passport_number": t.passport_number,
            "notes": t.notes,
        }
        for t in lifecycle.travellers
    ]
    # A POST is read without `initial`: a form equal to its initial value would count as left
    # empty and fall short of the number of travellers.
    if request.method == "POST":
        formset = traveller_formset(booking.travellers, request.POST)
    else:
        formset = traveller_formset(booking.travellers, None, initial)
    context = {"row": row, "booking": booking, "lifecycle": lifecycle, "formset": formset, "refusal": ""}
    if request.method == "GET":
        return render(request, "bookings/travellers.html", context)
    if not formset.is_valid():
        return render(request, "bookings/travellers.html", context, status=400)
    details = [services.TravellerDetails(**form.cleaned_data) for form in formset.forms]
    try:
        services.booking_travellers_update(actor=request.user, booking_id=booking_id, travellers=details)
    except ServiceError as exc:
        if exc.status == 404:
            raise Http404(exc.message) from None
        context["refusal"] = exc.message
        return render(request, "bookings/travellers.html", context, status=exc.status)
    messages.success(request, "Traveller details saved.")
    return redirect("bookings:booking_detail", booking_id=booking_id)


@require_GET
@signed_in
def booking_receipt(request: HttpRequest, booking_id: int) -> HttpResponse:
    """The printable receipt of a booking paid in full (404 until there is one)."""
    row = _row_or_404(request, booking_id)
    lifecycle = booking_lifecycle(row.booking)
    if lifecycle.receipt is None:
        raise Http404("This booking has no receipt yet: it is issued once the booking is paid in full.")
    return render(request, "bookings/receipt.html", {"row": row, "booking": row.booking, "lifecycle": lifecycle})
