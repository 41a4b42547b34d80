"""Views of the catalogue, the staff trip pages and the booking flows (thin: parse, call, render)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import SimpleLazyObject
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import Capability
from bookings import selectors, services
from bookings import selectors_departures as departure_selectors
from bookings.cache import catalogue_cache_key
from bookings.content import itinerary_text
from bookings.forms import (
    BookingForm,
    CatalogueFilterForm,
    PaymentForm,
    ReduceForm,
    StaffBookingFilterForm,
    StaffCancelForm,
    TripForm,
    price_input,
)
from bookings.images import ImageRejected, StoredImage, trip_image_delete, trip_image_path, trip_image_store
from bookings.models import BookingStatus, PriceRange, Trip, TripListing
from bookings.views_departures import departure_choice_context
from taskforge.decorators import capability_required, signed_in
from taskforge.errors import NotFound, ServiceError, form_refusal
from taskforge.params import choice_param, page_param, text_param

View = Callable[..., HttpResponse]


# --- helpers ---------------------------------------------------------------------------------


def _querystring(request: HttpRequest, drop: str = "page") -> str:
    params = request.GET.copy()
    params.pop(drop, None)
    return params.urlencode()


# --- catalogue and search --------------------------------------------------------------------


@require_GET
def catalogue(request: HttpRequest) -> HttpResponse:
    """The catalogue: filters, sort, pagination; with `q`, ranked search with a typo fallback.

    The results fragment does not depend on the visitor, so it is cached (bookings/cache.py)
    and served as the htmx response or inside the full page."""
    form = CatalogueFilterForm(request.GET or None)
    status = 200
    context: dict[str, Any] = {
        "form": form,
        "qs": _querystring(request),
        # A plain dict with every field: a lookup missing from a QueryDict costs the template
        # engine two exceptions and a dir() (once per resort <option>: 60 per page).
        "f": {name: request.GET.get(name, "") for name in CatalogueFilterForm.base_fields},
    }
    if form.is_bound and not form.is_valid():
        status = 400
        html = render_to_string("trips/partials/results.html", {**context, "result": None}, request)
    else:
        key = catalogue_cache_key(request.GET)
        html = cache.get(key) if key else None
        if html is None:
            filters = form.filters() if form.is_bound else selectors.CatalogueFilters()
            page = (form.cleaned_data.get("page") if form.is_bound else None) or 1
            result = selectors.catalogue_page(filters, page)
            html = render_to_string("trips/partials/results.html", {**context, "result": result}, request)
            if key:
                cache.set(key, html, settings.CATALOGUE_CACHE_SECONDS)
    if request.htmx:
        return HttpResponse(html, status=status)
    context.update(
        results_html=mark_safe(html),  # noqa: S308 - rendered by our own autoescaping template
        resorts=selectors.resort_choices(),
        price_ranges=PriceRange.choices,
        sorts=form.fields["sort"].choices,
    )
    return render(request, "trips/catalogue.html", context, status=status)


@require_GET
def trip_detail(request: HttpRequest, code: str) -> HttpResponse:
    page = selectors.trip_page(code, viewer=request.user)
    if page is None:
        raise Http404("There is no trip with this code.")
    description = mark_safe(page.description_html)  # noqa: S308 - sanitised by render_markdown (nh3)
    departures = departure_selectors.trip_departures(page.trip)
    context = {"page": page, "description_html": description, "departures": departures}
    return render(request, "trips/detail.html", context)


@require_GET
def trip_image(request: HttpRequest, name: str) -> FileResponse:
    """Trip images by their server-generated name (nginx may serve MEDIA_ROOT directly instead)."""
    path = trip_image_path(name)
    if path is None:
        raise Http404("No such image.")
    response = FileResponse(path.open("rb"), content_type="image/jpeg")
    response["Cache-Control"] = "public, max-age=604800, immutable"  # names are never reused
    return response


# --- booking ----------------------------------------------------------------------------------


def _trip_name(code: str) -> str:
    return TripListing.objects.filter(code=code).values_list("name", flat=True).first() or code


def _quote_or_none(code: str, travel_date: Any, travellers: Any) -> services.Quote | None:
    """The price to show next to a refusal; none when the booking itself cannot be priced
    (the refusal on the form says why)."""
    try:
        return services.booking_quote(trip_code=code, travel_date=travel_date, travellers=travellers)
    except ServiceError:
        return None


@require_http_methods(["GET", "POST"])
@signed_in
def trip_book(request: HttpRequest, code: str) -> HttpResponse:
    """Choose the departure and travellers, review the server-computed price, confirm."""
    trip = Trip.objects.filter(code=code).first()
    if trip is None:
        raise Http404("There is no trip with this code.")
    # The name is only needed when a page is rendered (not for the redirect after booking).
    context: dict[str, Any] = {"trip": trip, "trip_name": SimpleLazyObject(lambda: _trip_name(code)), "quote": None}
    departures = departure_selectors.bookable_dates(trip)
    if request.method == "GET":
        # ?date= picks a departure from the trip page; else the next one with room.
        chosen = request.GET.get("date", "")
        first = services.booking_quote(trip_code=code, travel_date=None, travellers=1)  # refusal: middleware
        travel_date = next((d for d in departures if d.isoformat() == chosen), None)
        form = BookingForm(
            departures=departures,
            initial={
                "travel_date": (travel_date or first.travel_date).isoformat(),
                "travellers": 1,
                "idempotency_key": uuid.uuid4(),
            },
        )
        context["quote"] = services.booking_quote(trip_code=code, travel_date=travel_date, travellers=1)
        context["form"] = form
        return render(request, "bookings/book.html", context)

    form = BookingForm(request.POST, departures=departures, accepted=departure_selectors.all_dates(trip))
    context["form"] = form
    if not form.is_valid():
        return render(request, "bookings/book.html", context, status=400)
    data = form.cleaned_data
    try:
        if data.get("step") != "confirm":
            context["quote"] = services.booking_quote(
                trip_code=code, travel_date=data["travel_date"], travellers=data["travellers"]
            )
            return render(request, "bookings/review.html", context)
        booking, created = services.booking_create(
            actor=request.user,
            trip_code=code,
            travel_date=data["travel_date"],
            travellers=data["travellers"],
            idempotency_key=data["idempotency_key"],
            expected_total_minor=data.get("expected_total"),
        )
    except ServiceError as exc:
        travel_date, travellers = data["travel_date"], data["travellers"]
        status = form_refusal(form, exc)  # (drops the field from cleaned_data)
        # The current price again, so the traveller can review and confirm.
        context["quote"] = _quote_or_none(code, travel_date, travellers)
        return render(request, "bookings/book.html", context, status=status)
    if created:
        messages.success(request, "Booking received. We'll email you once it is confirmed.")
    else:
        messages.info(request, "This booking was already made; here it is.")
    return redirect("bookings:booking_detail", booking_id=booking.pk)


def _date_or_refusal(raw: str) -> dt.date | None:
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise ServiceError("Choose one of the trip's departure dates.", field="travel_date") from None


@require_GET
def trip_quote(request: HttpRequest, code: str) -> HttpResponse:
    """htmx: the price for N travellers, computed on the server, while the booking form is
    filled in. The fragment takes the place of the price, so a refusal of the number typed
    (or of the trip) comes as its text with a 400, whatever its own status: it belongs to
    the booking form, not to a page of its own. An unknown trip is a 404 (the middleware)."""
    travellers = request.GET.get("travellers")
    try:
        travel_date = _date_or_refusal(request.GET.get("travel_date") or "")
        quote = services.booking_quote(trip_code=code, travel_date=travel_date, travellers=travellers)
    except NotFound:
        raise
    except ServiceError as exc:
        return render(request, "bookings/partials/quote.html", {"quote": None, "error": exc.message}, status=400)
    return render(request, "bookings/partials/quote.html", {"quote": quote, "error": ""})


@require_GET
@signed_in
def my_bookings(request: HttpRequest) -> HttpResponse:
    page = page_param(request)
    rows, has_next = selectors.bookings_for_traveller(request.user, page=page)
    return render(request, "bookings/mine.html", {"rows": rows, "page": page, "has_next": has_next})


def _row_or_404(request: HttpRequest, booking_id: int) -> selectors.BookingRow:
    row = selectors.booking_for_viewer(request.user, booking_id)
    if row is None:
        raise Http404("No such booking.")
    return row


def _refund(row: selectors.BookingRow) -> Any:
    booking = row.booking
    if booking.status == BookingStatus.CANCELLED:
        return None
    return services.cancellation_refund(booking, today=timezone.localdate())


@require_GET
@signed_in
def booking_detail(request: HttpRequest, booking_id: int) -> HttpResponse:
    row = _row_or_404(request, booking_id)
    booking = row.booking
    own = booking.user_id == request.user.pk
    changeable = booking.status != BookingStatus.CANCELLED and booking.travel_date > timezone.localdate()
    context = {
        "row": row,
        "booking": booking,
        "own": own,
        "changeable": changeable,
        "refund": _refund(row),
        "payment_form": PaymentForm(initial={"reference": booking.payment_reference}),
        "cancel_form": StaffCancelForm(),
        **departure_choice_context(booking),
    }
    return render(request, "bookings/detail.html", context)


@require_http_methods(["GET", "POST"])
@signed_in
def booking_cancel(request: HttpRequest, booking_id: int) -> HttpResponse:
    """The traveller's cancellation: the refund is shown first; POST confirms."""
    row = _row_or_404(request, booking_id)
    if row.booking.user_id != request.user.pk:
        # The booking desk sees the booking, so the refusal reveals nothing (403).
        raise PermissionDenied("Only the traveller cancels here; the booking desk cancels with a reason.")
    if request.method == "POST":
        # A refusal (already cancelled, trip started) is answered by the middleware.
        services.booking_cancel(actor=request.user, booking_id=booking_id)
        messages.success(request, "Your booking is cancelled.")
        return redirect("bookings:booking_detail", booking_id=booking_id)
    return render(request, "bookings/cancel.html", {"row": row, "booking": row.booking, "refund": _refund(row)})


def _reduce_quote_or_none(request: HttpRequest, booking_id: int, travellers: int) -> Any:
    """The refund to show next to a refusal, to review and confirm again; none when the
    change cannot be quoted (the refusal on the form says why)."""
    try:
        return services.booking_reduce_quote(actor=request.user, booking_id=booking_id, travellers=travellers)
    except ServiceError:
        return None


@require_http_methods(["GET", "POST"])
@signed_in
def booking_reduce(request: HttpRequest, booking_id: int) -> HttpResponse:
    """Fewer travellers, a partial cancellation: the refund for the travellers taken off is
    shown first (GET ?travellers=N, or htmx while typing), and only a POST with
    step=confirm and the refund shown makes the change. A POST without the confirmation
    is sent to the quote (nothing changes)."""
    row = _row_or_404(request, booking_id)
    booking = row.booking
    data = request.POST if request.method == "POST" else request.GET
    bound = request.method == "POST" or "travellers" in request.GET
    form = ReduceForm(data if bound else None, initial={"travellers": max(booking.travellers - 1, 1)})
    context: dict[str, Any] = {"row": row, "booking": booking, "form": form, "quote": None}
    template = "bookings/partials/reduce_quote.html" if request.htmx else "bookings/reduce.html"
    if not bound:
        return render(request, template, context)
    if not form.is_valid():
        # htmx swaps only 2xx answers: the message comes as the fragment's content.
        return render(request, template, context, status=200 if request.htmx else 400)
    travellers = form.cleaned_data["travellers"]
    try:
        if form.cleaned_data.get("step") != "confirm":
            context["quote"] = services.booking_reduce_quote(
                actor=request.user, booking_id=booking_id, travellers=travellers
            )
            if request.method == "POST":  # the old one-step form: show the refund first
                return redirect(f"{reverse('bookings:booking_reduce', args=[booking_id])}?travellers={travellers}")
            return render(request, template, context)
        services.booking_reduce_travellers(
            actor=request.user,
            booking_id=booking_id,
            travellers=travellers,
            expected_refund_minor=form.cleaned_data["expected_refund"],
        )
    except ServiceError as exc:
        status = form_refusal(form, exc)
        context["quote"] = _reduce_quote_or_none(request, booking_id, travellers)  # the current terms
        return render(request, template, context, status=200 if request.htmx else status)
    messages.success(request, "The booking now has fewer travellers; their seats are released.")
    return redirect("bookings:booking_detail", booking_id=booking_id)


# --- staff: bookings ---------------------------------------------------------------------------


@require_GET
@capability_required(Capability.BOOKING_DESK)
def staff_bookings(request: HttpRequest) -> HttpResponse:
    form = StaffBookingFilterForm(request.GET or None)
    rows: list[selectors.BookingRow] = []
    has_next = False
    page = 1
    status = 200
    if form.is_bound and not form.is_valid():
        status = 400
    else:
        filters = form.filters() if form.is_bound else selectors.StaffBookingFilters()
        page = (form.cleaned_data.get("page") if form.is_bound else None) or 1
        rows, has_next = selectors.bookings_for_staff(request.user, filters, page=page)
    context = {"form": form, "rows": rows, "page": page, "has_next": has_next, "qs": _querystring(request)}
    return render(request, "bookings/staff_list.html", context, status=status)


def _staff_refused(
    request: HttpRequest, booking_id: int, status: int, *, payment_form: Any = None, cancel_form: Any = None
) -> HttpResponse:
    """The booking page again with the booking desk's refused form, as it was filled in."""
    row = _row_or_404(request, booking_id)
    context = {
        "row": row,
        "booking": row.booking,
        "own": False,
        "refund": _refund(row),
        "changeable": row.booking.status != BookingStatus.CANCELLED,
        "payment_form": PaymentForm() if payment_form is None else payment_form,
        "cancel_form": StaffCancelForm() if cancel_form is None else cancel_form,
        "refused": cancel_form if payment_form is None else payment_form,
    }
    return render(request, "bookings/detail.html", context, status=status)


@require_POST
@capability_required(Capability.BOOKING_DESK)
def staff_confirm(request: HttpRequest, booking_id: int) -> HttpResponse:
    # A refusal (not pending any more) is answered by the middleware.
    services.booking_confirm(actor=request.user, booking_id=booking_id)
    messages.success(request, "Booking confirmed; the traveller will get an email.")
    return redirect("bookings:booking_detail", booking_id=booking_id)


@require_POST
@capability_required(Capability.BOOKING_DESK)
def staff_payment(request: HttpRequest, booking_id: int) -> HttpResponse:
    form = PaymentForm(request.POST)
    if not form.is_valid():
        return _staff_refused(request, booking_id, 400, payment_form=form)
    try:
        services.booking_record_payment(
            actor=request.user, booking_id=booking_id, reference=form.cleaned_data["reference"]
        )
    except ServiceError as exc:
        return _staff_refused(request, booking_id, form_refusal(form, exc), payment_form=form)
    messages.success(request, "Payment reference recorded.")
    return redirect("bookings:booking_detail", booking_id=booking_id)


@require_POST
@capability_required(Capability.BOOKING_DESK)
def staff_cancel(request: HttpRequest, booking_id: int) -> HttpResponse:
    form = StaffCancelForm(request.POST)
    if not form.is_valid():
        return _staff_refused(request, booking_id, 400, cancel_form=form)
    try:
        services.booking_cancel(
            actor=request.user,
            booking_id=booking_id,
            reason=form.cleaned_data["reason"],
            full_refund=form.cleaned_data["full_refund"],
        )
    except ServiceError as exc:
        return _staff_refused(request, booking_id, form_refusal(form, exc), cancel_form=form)
    messages.success(request, "Booking cancelled; the traveller will get an email.")
    return redirect("bookings:booking_detail", booking_id=booking_id)


# --- staff: trips -------------------------------------------------------------------------------


@require_GET
@capability_required(Capability.CATALOGUE_EDITOR)
def staff_trips(request: HttpRequest) -> HttpResponse:
    page = page_param(request)
    q = text_param(request, "q", max_length=100)
    show = choice_param(request, "show", selectors.STAFF_TRIP_SHOWS, "all")
    rows, has_next = selectors.staff_trips(q=q, show=show, page=page)
    context = {"rows": rows, "page": page, "has_next": has_next, "q": q, "show": show, "qs": _querystring(request)}
    return render(request, "trips/staff_list.html", context)


def _content(form: TripForm) -> services.TripContentInput:
    data = form.cleaned_data
    return services.TripContentInput(
        name=data["name"],
        resort=data["resort"],
        description_md=data["description"],
        keywords=data["keywords"],
        itinerary=data["itinerary"],
    )


def _store_image(form: TripForm) -> StoredImage | None:
    upload = form.cleaned_data.get("image")
    if not upload:
        return None
    try:
        return trip_image_store(upload, size=upload.size)
    except ImageRejected as exc:
        form.add_error("image", str(exc))
        return None


@require_http_methods(["GET", "POST"])
@capability_required(Capability.CATALOGUE_EDITOR)
def staff_trip_new(request: HttpRequest) -> HttpResponse:
    form = TripForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        image = _store_image(form)
        if image is not None:
            data = form.cleaned_data
            try:
                trip = services.trip_create(
                    actor=request.user,
                    code=data["code"],
                    content=_content(form),
                    start=data["start"],
                    length_days=data["length_days"],
                    price_minor=data["price"],
                    currency=data["currency"],
                    seats=data["seats"],
                    image=image,
                )
            except ServiceError as exc:
                trip_image_delete(image)  # nothing refers to it
                status = form_refusal(form, exc)
                return render(request, "trips/form.html", {"form": form, "creating": True}, status=status)
            messages.success(request, f"Trip {trip.code} created.")
            return redirect("bookings:trip_detail", code=trip.code)
    status = 400 if request.method == "POST" else 200
    return render(request, "trips/form.html", {"form": form, "creating": True}, status=status)


def _state_or_unavailable(request: HttpRequest, trip: Trip) -> dict[str, Any] | None:
    state = selectors.trip_state(trip)
    if state is None:
        messages.error(
            request,
            "The trip's details are not available right now (document server unreachable). Try again in a moment.",
        )
    return state


@require_http_methods(["GET", "POST"])
@capability_required(Capability.CATALOGUE_EDITOR)
def staff_trip_edit(request: HttpRequest, code: str) -> HttpResponse:
    trip = Trip.objects.filter(code=code).first()
    if trip is None:
        raise Http404("There is no trip with this code.")
    state = _state_or_unavailable(request, trip)
    if state is None:
        return render(request, "trips/form.html", {"form": None, "trip": trip, "creating": False}, status=503)
    initial = {
        "code": trip.code,
        "name": state.get("name", ""),
        "resort": state.get("resort", ""),
        "start": trip.start,
        "length_days": trip.length_days,
        "price": price_input(trip.price_minor),
        "currency": trip.currency,
        "seats": trip.seats,
        "description": state.get("description_md", ""),
        "keywords": ", ".join(state.get("keywords", [])),
        "itinerary": itinerary_text(state.get("itinerary", [])),
        "version": trip.version,
    }
    form = TripForm(request.POST or None, request.FILES or None, initial=initial, editing=True)
    context = {"form": form, "trip": trip, "state": state, "creating": False}
    if request.method == "POST" and form.is_valid():
        image = _store_image(form) if form.cleaned_data.get("image") else None
        if not form.errors:
            data = form.cleaned_data
            try:
                services.trip_update(
                    actor=request.user,
                    trip_code=code,
                    code=data["code"] or None,
                    expected_version=data["version"],
                    current_state=state,
                    content=_content(form),
                    start=data["start"],
                    length_days=data["length_days"],
                    price_minor=data["price"],
                    currency=data["currency"],
                    seats=data["seats"],
                    image=image,
                )
            except ServiceError as exc:
                if image:
                    trip_image_delete(image)  # nothing refers to it
                status = form_refusal(form, exc)
                return render(request, "trips/form.html", context, status=status)
            messages.success(request, f"Trip {code} saved.")
            return redirect("bookings:trip_detail", code=code)
    status = 400 if request.method == "POST" else 200
    return render(request, "trips/form.html", context, status=status)


@require_POST
@capability_required(Capability.CATALOGUE_EDITOR)
def staff_trip_active(request: HttpRequest, code: str) -> HttpResponse:
    """Deactivate (take off sale) or reactivate a trip."""
    trip = Trip.objects.filter(code=code).first()
    if trip is None:
        raise Http404("There is no trip with this code.")
    active = request.POST.get("active") == "1"
    state = _state_or_unavailable(request, trip)
    if state is not None:
        # A refusal (changed meanwhile) is answered by the middleware.
        services.trip_set_active(actor=request.user, trip_code=code, active=active, current_state=state)
        messages.success(request, f"Trip {code} {'is on sale again' if active else 'is off sale'}.")
    return redirect(reverse("bookings:staff_trips"))
