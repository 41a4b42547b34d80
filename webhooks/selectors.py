"""Reads of the webhooks app, scoped to what the person may manage (RLS enforces the same)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from webhooks.models import EndpointScope, WebhookDelivery, WebhookEndpoint

DELIVERY_LOG_SIZE = 50


def endpoints_for_team(team_id: int) -> QuerySet[WebhookEndpoint]:
    """A team's endpoints (the caller has checked that the person manages the team's webhooks)."""
    return WebhookEndpoint.objects.filter(scope=EndpointScope.TEAM, team_id=team_id).order_by("id")


def endpoints_for_desk() -> QuerySet[WebhookEndpoint]:
    """The booking desk's endpoints (the caller has checked the capability)."""
    return WebhookEndpoint.objects.filter(scope=EndpointScope.DESK).order_by("id")


def deliveries_for_endpoint(endpoint: WebhookEndpoint, *, limit: int = DELIVERY_LOG_SIZE) -> list[WebhookDelivery]:
    """The endpoint's latest deliveries, newest first (one indexed query)."""
    return list(WebhookDelivery.objects.filter(endpoint=endpoint).order_by("-created_at")[:limit])


def delivery_summary(deliveries: list[WebhookDelivery]) -> dict[str, Any]:
    """Counts by status of a delivery log page."""
    counts: dict[str, int] = {}
    for d in deliveries:
        counts[d.status] = counts.get(d.status, 0) + 1
    return counts
