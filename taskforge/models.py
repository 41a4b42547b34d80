"""Platform models: the transactional outbox."""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Now


class OutboxStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    APPLIED = "applied", "Applied"
    DEAD = "dead", "Dead letter"


class OutboxEvent(models.Model):
    """A change to apply to MongoDB and/or the search projection, written in the same
    transaction as the PostgreSQL change it describes. Applied idempotently by the relay,
    keyed by (aggregate_type, aggregate_id, version)."""

    AUDIT = False  # technical table; the business change itself is audited

    aggregate_type = models.CharField(max_length=64)
    aggregate_id = models.CharField(max_length=64)
    version = models.BigIntegerField()
    event_type = models.CharField(max_length=64)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(db_default=Now())
    status = models.CharField(max_length=16, choices=OutboxStatus.choices, default=OutboxStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(db_default=Now())
    last_error = models.TextField(blank=True, default="")
    applied_at = models.DateTimeField(null=True, blank=True)
    lag_ms = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        db_table = "outbox_event"
        indexes = [
            models.Index(
                fields=["next_attempt_at", "id"],
                name="outbox_pending_idx",
                condition=models.Q(status="pending"),
            ),
            models.Index(fields=["aggregate_type", "aggregate_id", "version"], name="outbox_aggregate_idx"),
            models.Index(fields=["applied_at"], name="outbox_applied_idx", condition=models.Q(status="applied")),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.aggregate_type}:{self.aggregate_id} v{self.version}"
