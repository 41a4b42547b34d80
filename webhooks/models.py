"""Webhooks: the endpoints teams and the booking desk register, and the log of deliveries.

An endpoint belongs to one scope: a team (task and comment events of that team, managed by
the people holding the team's `team.manage` permission: its admins) or the booking desk
(booking events, managed by holders of the booking-desk capability). Its secret signs
every delivery; it is shown once when the endpoint is made and stored in the clear in
this table (it must be available to sign), readable only through the row-level-security
policy below, and never written to the audit log (the services audit endpoints without it).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now
from django_rls.models import RLSModel
from django_rls.policies import CustomPolicy

from sync.events import EVENT_SCOPES
from taskforge.rls import CTX_IS_ADMIN, CTX_USER_ID, ctx_has_capability


class EndpointScope(models.TextChoices):
    TEAM = "team", "Team"
    DESK = "desk", "Booking desk"


EVENT_TYPES_BY_SCOPE: dict[str, tuple[str, ...]] = {
    scope: tuple(t for t, s in EVENT_SCOPES.items() if s == scope) for scope in EndpointScope.values
}

# The people who may manage a team's endpoints: members whose role holds `team.manage` in
# the team's permission table (accounts/permissions.py; a team without rows of its own uses
# the defaults, where only admins hold it). Site admins and the system see every endpoint.
TEAM_MANAGER_SQL = (
    "team_id IN (SELECT m.team_id FROM accounts_membership m "
    f"WHERE m.user_id = (SELECT {CTX_USER_ID}) AND ("
    "EXISTS (SELECT 1 FROM accounts_role_permission rp WHERE rp.team_id = m.team_id "
    "AND rp.role = m.role AND rp.permission = 'team.manage') "
    "OR (m.role = 'admin' AND NOT EXISTS (SELECT 1 FROM accounts_role_permission rp2 WHERE rp2.team_id = m.team_id))"
    "))"
)
ENDPOINT_POLICY = (
    f"({CTX_IS_ADMIN}) OR (scope = 'team' AND {TEAM_MANAGER_SQL}) "
    f"OR (scope = 'desk' AND (SELECT {ctx_has_capability('booking_desk')}))"
)
# A delivery is visible (and writable) to whoever sees its endpoint: the sub-select runs
# under the endpoint table's own policy.
DELIVERY_POLICY = "endpoint_id IN (SELECT e.id FROM webhooks_endpoint e)"


class WebhookEndpoint(RLSModel):
    """A URL that receives signed POSTs for the event types it asks for (one scope: a team or the desk)."""

    # Audited by the services (webhooks/services/endpoints.py, kind "webhook_endpoint") without the secret: the
    # row trigger would copy the secret into the audit log.
    AUDIT = False

    scope = models.CharField(max_length=8, choices=EndpointScope.choices)
    team = models.ForeignKey(
        "accounts.Team", on_delete=models.CASCADE, null=True, blank=True, related_name="webhook_endpoints"
    )
    url = models.CharField(max_length=2000)
    description = models.CharField(max_length=200, blank=True, default="")
    secret = models.CharField(max_length=100, help_text="HMAC-SHA256 key; shown once when created.")
    event_types = ArrayField(models.CharField(max_length=40))
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(db_default=Now())
    updated_at = models.DateTimeField(db_default=Now())

    class Meta:
        db_table = "webhooks_endpoint"
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(scope__in=EndpointScope.values), name="webhooks_endpoint_scope_valid"),
            models.CheckConstraint(
                condition=(Q(scope="team") & Q(team__isnull=False)) | (Q(scope="desk") & Q(team__isnull=True)),
                name="webhooks_endpoint_scope_team",
            ),
        ]
        indexes = [
            models.Index(fields=["team", "active"], name="webhooks_endpoint_team_idx"),
            models.Index(fields=["scope", "active"], name="webhooks_endpoint_scope_idx"),
        ]
        rls_policies = [CustomPolicy("webhooks_endpoint_managers", ENDPOINT_POLICY, operation="ALL")]

    def __str__(self) -> str:
        return f"webhook {self.pk} → {self.url}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"  # not tried yet
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed (will retry)"
    DEAD = "dead", "Dead letter"


RETRYABLE = (DeliveryStatus.PENDING, DeliveryStatus.FAILED)


class WebhookDelivery(RLSModel):
    """One event for one endpoint: the JSON body sent, and how the attempts went.

    Made by the outbox handler from the event recorded with the change (one per matching
    endpoint, at most once per event: the unique constraint), or by "redeliver" (a new row
    pointing at the one it repeats). A worker claims it by moving `next_attempt_at` forward
    (a lease), so two workers never post the same attempt.
    """

    AUDIT = False  # a technical log, written on every attempt; the endpoint's changes are audited

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.CharField(max_length=64)
    event_type = models.CharField(max_length=40)
    payload = models.JSONField()
    redelivery_of = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True, default="")
    duration_ms = models.PositiveIntegerField(null=True, blank=True, help_text="Of the last attempt.")
    next_attempt_at = models.DateTimeField(db_default=Now())
    created_at = models.DateTimeField(db_default=Now())
    updated_at = models.DateTimeField(db_default=Now())
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "webhooks_delivery"
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=DeliveryStatus.values), name="webhooks_delivery_status_valid"
            ),
            models.UniqueConstraint(
                fields=["endpoint", "event_id"],
                condition=Q(redelivery_of__isnull=True),
                name="webhooks_delivery_once_per_event",
            ),
        ]
        indexes = [
            models.Index(fields=["endpoint", "-created_at"], name="webhooks_delivery_log_idx"),
            models.Index(fields=["event_id"], name="webhooks_delivery_event_idx"),
            models.Index(fields=["created_at"], name="webhooks_delivery_created_idx"),
            models.Index(
                fields=["next_attempt_at"],
                name="webhooks_delivery_due_idx",
                condition=Q(status__in=["pending", "failed"]),
            ),
        ]
        rls_policies = [CustomPolicy("webhooks_delivery_endpoint_managers", DELIVERY_POLICY, operation="ALL")]

    def __str__(self) -> str:
        return f"{self.event_type} → endpoint {self.endpoint_id} ({self.status})"
