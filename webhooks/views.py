"""Webhook pages: a team's endpoints (its admins), the booking desk's endpoints (desk staff),
one endpoint with its delivery log, editing, enabling/disabling, a new secret, deleting, and
redelivering. Thin: parse, call a service or selector, render."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import Capability
from accounts.permissions import permission_require
from taskforge.decorators import capability_required, signed_in, team_member_required
from taskforge.errors import ServiceError, form_refusal
from tasks.selectors.teams import team_for_user
from webhooks import selectors
from webhooks.forms import EndpointForm
from webhooks.models import EndpointScope, WebhookEndpoint
from webhooks.services.deliveries import delivery_redeliver
from webhooks.services.endpoints import (
    endpoint_create,
    endpoint_delete,
    endpoint_load,
    endpoint_secret_rotate,
    endpoint_set_active,
    endpoint_update,
)


def _list_url(endpoint: WebhookEndpoint) -> str:
    if endpoint.scope == EndpointScope.TEAM:
        return reverse("webhooks:team", kwargs={"team_id": endpoint.team_id})
    return reverse("webhooks:desk")


def _endpoints_page(request: HttpRequest, *, scope: str, team: Any, endpoints: Any, heading: str) -> HttpResponse:
    """The list of a scope's endpoints with the form to add one; a new endpoint's secret is shown once."""
    form = EndpointForm(request.POST or None, scope=scope)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                endpoint, secret = endpoint_create(
                    actor=request.user, scope=scope, team_id=team.id if team else None, **form.cleaned_data
                )
            except (ServiceError, PermissionDenied) as exc:
                status = form_refusal(form, exc)
            else:
                # Rendered, not redirected: the secret is never stored anywhere it could be shown again.
                return render(
                    request,
                    "webhooks/secret.html",
                    {"endpoint": endpoint, "secret": secret, "back": _list_url(endpoint), "created": True},
                    status=201,
                )
    return render(
        request,
        "webhooks/list.html",
        {"team": team, "heading": heading, "endpoints": list(endpoints), "form": form},
        status=status,
    )


@team_member_required
@require_http_methods(["GET", "POST"])
def team_endpoints(request: HttpRequest, team_id: int) -> HttpResponse:
    team = team_for_user(request.user, team_id)
    permission_require(request.user, team.id, "team.manage")
    return _endpoints_page(
        request,
        scope=EndpointScope.TEAM,
        team=team,
        endpoints=selectors.endpoints_for_team(team.id),
        heading=f"Webhooks of {team.name}",
    )


@capability_required(Capability.BOOKING_DESK)
@require_http_methods(["GET", "POST"])
def desk_endpoints(request: HttpRequest) -> HttpResponse:
    return _endpoints_page(
        request,
        scope=EndpointScope.DESK,
        team=None,
        endpoints=selectors.endpoints_for_desk(),
        heading="Booking webhooks",
    )


@signed_in
@require_GET
def endpoint_detail(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = endpoint_load(request.user, endpoint_id)
    deliveries = selectors.deliveries_for_endpoint(endpoint)
    return render(
        request,
        "webhooks/detail.html",
        {
            "endpoint": endpoint,
            "deliveries": deliveries,
            "summary": selectors.delivery_summary(deliveries),
            "back": _list_url(endpoint),
        },
    )


@signed_in
@require_http_methods(["GET", "POST"])
def endpoint_edit(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = endpoint_load(request.user, endpoint_id)
    initial = {
        "url": endpoint.url,
        "description": endpoint.description,
        "event_types": list(endpoint.event_types),
        "active": endpoint.active,
    }
    form = EndpointForm(request.POST or None, initial=initial, scope=endpoint.scope, with_active=True)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                endpoint_update(actor=request.user, endpoint_id=endpoint.pk, **form.cleaned_data)
            except (ServiceError, PermissionDenied) as exc:
                status = form_refusal(form, exc)
            else:
                messages.success(request, "Webhook saved.")
                return redirect("webhooks:endpoint", endpoint_id=endpoint.pk)
    return render(request, "webhooks/edit.html", {"endpoint": endpoint, "form": form}, status=status)


@signed_in
@require_POST
def endpoint_toggle(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = endpoint_load(request.user, endpoint_id)
    endpoint = endpoint_set_active(actor=request.user, endpoint_id=endpoint.pk, active=not endpoint.active)
    messages.success(request, "Webhook enabled." if endpoint.active else "Webhook disabled: it is sent nothing.")
    return redirect("webhooks:endpoint", endpoint_id=endpoint.pk)


@signed_in
@require_POST
def endpoint_secret(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint, secret = endpoint_secret_rotate(actor=request.user, endpoint_id=endpoint_id)
    return render(
        request,
        "webhooks/secret.html",
        {"endpoint": endpoint, "secret": secret, "back": reverse("webhooks:endpoint", args=[endpoint.pk])},
    )


@signed_in
@require_POST
def endpoint_remove(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = endpoint_load(request.user, endpoint_id)
    back = _list_url(endpoint)
    endpoint_delete(actor=request.user, endpoint_id=endpoint.pk)
    messages.success(request, "Webhook deleted, with its delivery log.")
    return redirect(back)


@signed_in
@require_POST
def redeliver(request: HttpRequest, delivery_id: str) -> HttpResponse:
    delivery = delivery_redeliver(actor=request.user, delivery_id=delivery_id)
    messages.success(request, "Queued for redelivery.")
    return redirect("webhooks:endpoint", endpoint_id=delivery.endpoint_id)
