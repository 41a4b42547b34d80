"""The backup register: each backup run, its manifest checksum and its verification."""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Now


class BackupStatus(models.TextChoices):
    RUNNING = "running", "Running"
    OK = "ok", "Complete"
    FAILED = "failed", "Failed"
    DELETED = "deleted", "Deleted by retention"


class BackupRecord(models.Model):
    """One backup run: where it is, how it went, and the result of its last verification.

    `slot` names the scheduled run ("daily-2026-11-21") so a redelivered job never starts
    the same dump twice; manual backups have no slot. `manifest_sha256` pins the manifest,
    so a manifest edited after the fact is detected by verification.
    """

    path = models.CharField(max_length=500, unique=True)
    # NULL (not "") for manual backups, so the unique constraint below ignores them.
    slot = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    status = models.CharField(max_length=16, choices=BackupStatus.choices, default=BackupStatus.RUNNING)
    started_at = models.DateTimeField(db_default=Now())
    finished_at = models.DateTimeField(null=True, blank=True)
    size_bytes = models.BigIntegerField(null=True, blank=True)
    manifest_sha256 = models.CharField(max_length=64, blank=True, default="")
    error = models.TextField(blank=True, default="")
    verified_at = models.DateTimeField(null=True, blank=True)
    verify_ok = models.BooleanField(null=True, blank=True)
    verify_result = models.JSONField(null=True, blank=True)

    class Meta:
        db_table = "backup_record"
        ordering = ["-started_at"]
        constraints = [
            # A slot can be running or done once; a failed attempt frees it for a retry.
            models.UniqueConstraint(
                fields=["slot"], name="backup_record_slot_once", condition=models.Q(status__in=["running", "ok"])
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["running", "ok", "failed", "deleted"]), name="backup_record_status_valid"
            ),
        ]
        indexes = [models.Index(fields=["verified_at"], name="backup_record_verified_idx")]

    def __str__(self) -> str:
        return f"backup {self.path} ({self.status})"

    @property
    def name(self) -> str:
        return self.path.rstrip("/").rpartition("/")[2]
