"""Writes of webhook endpoints: create (the secret is returned once), edit, enable or disable,
delete. Team endpoints are managed by holders of the team's `team.manage` permission (its
admins), booking-desk endpoints by holders of the booking-desk capability; anyone else is
told the endpoint does not exist. Every change is audited without the secret.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from accounts.models import Capability, Team
from accounts.permissions import capability_has, permission_has
from audit.services import audit_content_record
from taskforge.errors import NotFound, ServiceError
from webhooks.models import EVENT_TYPES_BY_SCOPE, EndpointScope, WebhookEndpoint
from webhooks.signing import secret_new
from webhooks.transport import TargetRefused, target_resolve

DESCRIPTION_MAX = 200


def endpoint_manage_allowed(actor: Any, *, scope: str, team_id: int | None) -> bool:
    """May the actor manage endpoints of this scope (a team's, or the booking desk's)?"""
    if actor is None or not getattr(actor, "is_authenticated", False) or not actor.is_active:
        return False
    if scope == EndpointScope.DESK:
        return capability_has(actor, Capability.BOOKING_DESK)
    return team_id is not None and permission_has(actor, team_id, "team.manage")


def endpoint_load(actor: Any, endpoint_id: Any, *, lock: bool = False) -> WebhookEndpoint:
    """The endpoint if the actor may manage it (RLS + the same rule in Python), else NotFound."""
    try:
        pk = int(endpoint_id)
    except (TypeError, ValueError):
        raise NotFound("No such webhook endpoint.") from None
    qs = WebhookEndpoint.objects.filter(pk=pk)
    if lock:
        qs = qs.select_for_update()
    endpoint = qs.first()
    if endpoint is None or not endpoint_manage_allowed(actor, scope=endpoint.scope, team_id=endpoint.team_id):
        raise NotFound("No such webhook endpoint.")
    return endpoint


def _audit_view(endpoint: WebhookEndpoint) -> dict[str, Any]:
    # A short digest instead of the secret: a new secret shows as a change, the secret never shows.
    digest = hashlib.sha256(endpoint.secret.encode("utf-8")).hexdigest()[:12]
    return {
        "id": endpoint.pk,
        "scope": endpoint.scope,
        "team_id": endpoint.team_id,
        "url": endpoint.url,
        "description": endpoint.description,
        "event_types": list(endpoint.event_types),
        "active": endpoint.active,
        "secret": f"redacted:{digest}",
    }


def _audit(endpoint: WebhookEndpoint, operation: str, old: dict[str, Any] | None) -> None:
    new = None if operation == "DELETE" else _audit_view(endpoint)
    audit_content_record(table="webhook_endpoint", record_id=endpoint.pk, operation=operation, old=old, new=new)


def _url_check(url: str) -> str:
    try:
        return target_resolve(url).url
    except TargetRefused as exc:
        raise ServiceError(str(exc), field="url", status=422) from None


def _event_types_check(scope: str, event_types: Iterable[str]) -> list[str]:
    allowed = EVENT_TYPES_BY_SCOPE[scope]
    chosen = list(dict.fromkeys(str(t) for t in event_types or ()))
    unknown = [t for t in chosen if t not in allowed]
    if unknown:
        raise ServiceError(
            f"These events cannot be sent to this endpoint: {', '.join(unknown)[:200]}.",
            field="event_types",
            status=422,
        )
    if not chosen:
        raise ServiceError("Choose at least one event.", field="event_types", status=422)
    return [t for t in allowed if t in chosen]


def _description_check(description: str) -> str:
    description = (description or "").strip()
    if len(description) > DESCRIPTION_MAX:
        raise ServiceError(f"At most {DESCRIPTION_MAX} characters.", field="description", status=422)
    return description


def endpoint_create(
    *, actor: Any, scope: str, team_id: int | None, url: str, event_types: Iterable[str], description: str = ""
) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint. Returns (endpoint, secret): the secret is shown to the person once."""
    if scope not in EndpointScope.values:
        raise ServiceError("Unknown endpoint scope.")
    if scope == EndpointScope.TEAM:
        if team_id is None or not Team.objects.filter(pk=team_id).exists():
            raise NotFound("No such team.")
        if not permission_has(actor, team_id, "task.view"):
            raise NotFound("No such team.")
        if not permission_has(actor, team_id, "team.manage"):
            raise PermissionDenied("Only the team's admins manage its webhooks.")
    else:
        team_id = None
        if not endpoint_manage_allowed(actor, scope=scope, team_id=None):
            raise NotFound("Not found.")
    url = _url_check(url)
    types = _event_types_check(scope, event_types)
    description = _description_check(description)
    secret = secret_new()
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.create(
            scope=scope,
            team_id=team_id,
            url=url,
            description=description,
            secret=secret,
            event_types=types,
            active=True,
            created_by=actor,
        )
        _audit(endpoint, "INSERT", None)
    return endpoint, secret


def endpoint_update(
    *, actor: Any, endpoint_id: Any, url: str, event_types: Iterable[str], description: str, active: bool
) -> WebhookEndpoint:
    """Change the URL, the events, the description or the active flag.

    The input is checked before the row is locked: the URL check resolves the host (DNS can be
    slow), and it runs on every save, because an unchanged host name may now resolve to a
    private address."""
    scope = endpoint_load(actor, endpoint_id).scope
    url = _url_check(url)
    types = _event_types_check(scope, event_types)
    description = _description_check(description)
    with transaction.atomic():
        endpoint = endpoint_load(actor, endpoint_id, lock=True)
        old = _audit_view(endpoint)
        endpoint.url, endpoint.event_types, endpoint.description = url, types, description
        endpoint.active = bool(active)
        endpoint.updated_at = timezone.now()
        endpoint.save(update_fields=["url", "event_types", "description", "active", "updated_at"])
        _audit(endpoint, "UPDATE", old)
    return endpoint


def endpoint_set_active(*, actor: Any, endpoint_id: Any, active: bool) -> WebhookEndpoint:
    """Enable or disable an endpoint: a disabled one is sent nothing (pending deliveries end as dead letters)."""
    with transaction.atomic():
        endpoint = endpoint_load(actor, endpoint_id, lock=True)
        old = _audit_view(endpoint)
        if endpoint.active != bool(active):
            endpoint.active = bool(active)
            endpoint.updated_at = timezone.now()
            endpoint.save(update_fields=["active", "updated_at"])
            _audit(endpoint, "UPDATE", old)
    return endpoint


def endpoint_secret_rotate(*, actor: Any, endpoint_id: Any) -> tuple[WebhookEndpoint, str]:
    """Give the endpoint a new secret (shown once); deliveries from now on are signed with it."""
    with transaction.atomic():
        endpoint = endpoint_load(actor, endpoint_id, lock=True)
        old = _audit_view(endpoint)
        secret = secret_new()
        endpoint.secret = secret
        endpoint.updated_at = timezone.now()
        endpoint.save(update_fields=["secret", "updated_at"])
        _audit(endpoint, "UPDATE", old)
    return endpoint, secret


def endpoint_delete(*, actor: Any, endpoint_id: Any) -> None:
    """Delete the endpoint and its delivery log."""
    with transaction.atomic():
        endpoint = endpoint_load(actor, endpoint_id, lock=True)
        old = _audit_view(endpoint)
        _audit(endpoint, "DELETE", old)
        endpoint.delete()
