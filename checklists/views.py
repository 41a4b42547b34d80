"""Pages of departure checklists (thin: parse, call a service or a selector, render)."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import Capability
from bookings.models import Trip
from checklists import selectors, services
from checklists.forms import ChecklistItemForm
from taskforge.decorators import capability_required, signed_in
from taskforge.errors import ServiceError, form_refusal


def _trip_or_404(code: str) -> Trip:
    trip = Trip.objects.filter(code=code).first()
    if trip is None:
        raise Http404("There is no trip with this code.")
    return trip


def _template_page(request: HttpRequest, trip: Trip, form: ChecklistItemForm | None = None, status: int = 200):
    context = {
        "trip": trip,
        "items": selectors.checklist_items(trip.code),
        "form": form or ChecklistItemForm(teams=selectors.teams_for_items()),
    }
    return render(request, "checklists/trip_checklist.html", context, status=status)


@require_http_methods(["GET", "POST"])
@capability_required(Capability.CATALOGUE_EDITOR)
def trip_checklist(request: HttpRequest, code: str) -> HttpResponse:
    """A trip's checklist template; POST adds an item."""
    trip = _trip_or_404(code)
    if request.method == "GET":
        return _template_page(request, trip)
    form = ChecklistItemForm(request.POST, teams=selectors.teams_for_items())
    if not form.is_valid():
        return _template_page(request, trip, form, status=400)
    data = form.cleaned_data
    try:
        services.checklist_item_add(
            actor=request.user,
            trip_code=trip.code,
            title=data["title"],
            team_id=data["team"],
            offset_days=data["offset_days"],
            notes=data["notes"],
        )
    except ServiceError as exc:
        return _template_page(request, trip, form, status=form_refusal(form, exc))
    messages.success(request, f"Checklist item “{data['title']}” added.")
    return redirect("checklists:trip", code=trip.code)


@require_POST
@capability_required(Capability.CATALOGUE_EDITOR)
def checklist_item_delete(request: HttpRequest, item_id: int) -> HttpResponse:
    code = services.checklist_item_delete(actor=request.user, item_id=item_id)
    messages.success(request, "Checklist item removed. Tasks already made stay on their boards.")
    return redirect("checklists:trip", code=code)


@require_GET
@signed_in
def departure_checklist(request: HttpRequest, departure_id: int) -> HttpResponse:
    """The staff page of a departure's checklist: its progress and its tasks."""
    page = selectors.departure_checklist_page(request.user, departure_id)
    if page is None:
        raise Http404("No such departure.")
    return render(request, "checklists/departure.html", {"page": page, "is_staff": selectors.is_staff(request.user)})
