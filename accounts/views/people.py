"""The People page: site admins find accounts and grant or remove site capabilities."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from accounts import selectors
from accounts.forms import CapabilitiesForm, PeopleSearchForm
from accounts.models import CAPABILITY_DESCRIPTIONS, Capability
from accounts.services.capabilities import capabilities_set
from taskforge.decorators import capability_required
from taskforge.errors import ServiceError, form_refusal


@capability_required(Capability.SITE_ADMIN)
@require_GET
def people_view(request: HttpRequest) -> HttpResponse:
    form = PeopleSearchForm(request.GET)
    if not form.is_valid():
        return render(request, "accounts/people.html", {"form": form, "people": [], "has_next": False}, status=400)
    page = form.cleaned_data["page"] or 1
    people, has_next = selectors.people_search(request.user, query=form.cleaned_data["q"], page=page)
    context = {"form": form, "people": people, "page": page, "has_next": has_next, "q": form.cleaned_data["q"]}
    return render(request, "accounts/people.html", context)


@capability_required(Capability.SITE_ADMIN)
@require_http_methods(["GET", "POST"])
def person_view(request: HttpRequest, user_id: int) -> HttpResponse:
    person = selectors.person_for_admin(request.user, user_id)
    if person is None:
        raise Http404("No such person.")
    # Bound on every POST: with every box unticked the body may hold nothing else.
    data = request.POST if request.method == "POST" else None
    form = CapabilitiesForm(data, initial={"capabilities": list(person.capabilities)})
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                capabilities_set(actor=request.user, user_id=user_id, capabilities=form.cleaned_data["capabilities"])
            except ServiceError as exc:
                status = form_refusal(form, exc)
            else:
                messages.success(request, f"Capabilities of {person.user.email} saved; they apply on their next page.")
                return redirect("accounts:person", user_id=user_id)
        else:
            status = 400
    context = {"person": person, "form": form, "descriptions": CAPABILITY_DESCRIPTIONS}
    return render(request, "accounts/person.html", context, status=status)
