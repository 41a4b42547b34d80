"""Platform models: the transactional outbox and the relay's self-test aggregate.

See sync/outbox.py for how events are recorded, claimed, applied and reconciled.
"""

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

    # Lifecycle: pending -> applied, or pending -> dead after OUTBOX_MAX_ATTEMPTS.
    # A relay claims a pending event by setting `locked_by` (its claim token) and moving
    # `next_attempt_at` forward by the lease (OUTBOX_LEASE_SECONDS): while the lease runs,
    # no other relay sees the event as due; if the relay dies, the event is due again when
    # the lease ends. `attempts` counts claims that ended in a failure or were lost.
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
    lag_ms = models.PositiveIntegerField(null=True, blank=True, help_text="created_at to applied_at, in ms")
    # host:pid:nonce of the relay claim that holds the event, or that applied it (kept for forensics).
    locked_by = models.CharField(max_length=64, blank=True, default="", help_text="relay claim token")

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
            models.Index(fields=["id"], name="outbox_dead_idx", condition=models.Q(status="dead")),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.aggregate_type}:{self.aggregate_id} v{self.version}"


class SyncProbe(models.Model):
    """The relay's self-test aggregate (aggregate type "probe").

    A real, tiny entity that goes through the whole outbox path: a PostgreSQL row (the
    source of truth, with a version), a MongoDB document (collection `sync_probe`) and a
    search-projection row (SyncProbeSearch), kept in step by sync/probe.py. Used by
    `manage.py sync_status --probe` (an end-to-end heartbeat through the running relay),
    by the fault tests and by bench/sync. It carries no business data.
    """

    AUDIT = False  # technical self-test rows, written at high rates by the benchmark

    name = models.CharField(max_length=200)
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(db_default=Now())

    class Meta:
        db_table = "sync_probe"

    def __str__(self) -> str:
        return f"probe {self.pk} v{self.version}"


class SyncProbeSearch(models.Model):
    """Search projection of a SyncProbe, written only by the relay (versioned upsert).

    Not a foreign key: the relay may apply an old event after the probe was deleted.
    A delete leaves a tombstone (deleted=True, with its version), so a late, older event
    cannot bring the row back.
    """

    AUDIT = False  # a projection, rebuilt from the outbox

    probe_id = models.BigIntegerField(primary_key=True)
    version = models.PositiveIntegerField()
    name = models.CharField(max_length=200, blank=True, default="")
    deleted = models.BooleanField(default=False)

    class Meta:
        db_table = "sync_probe_search"

    def __str__(self) -> str:
        return f"probe search {self.probe_id} v{self.version}"
