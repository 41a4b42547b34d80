"""The email delivery log: every outgoing email, its rendered payload, and digest items."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Now


class EmailStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class EmailDelivery(models.Model):
    """One outgoing email and what happened to it: the delivery log admins browse.

    Created (status queued) in the caller's transaction; the `notifications.email_send`
    job claims it (status sending + claimed_at, a lease), sends it over SMTP and marks it
    sent or failed. `idempotency_key` makes queuing the same email twice a no-op and
    also derives the Message-ID, so a duplicate send (see mail/delivery.py) is detectable.
    The template context lives in EmailPayload (not audited: it may hold one-time links).
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    recipient = models.EmailField(max_length=254)
    kind = models.CharField(max_length=64)
    subject = models.CharField(max_length=255)
    status = models.CharField(max_length=16, choices=EmailStatus.choices, default=EmailStatus.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    idempotency_key = models.CharField(max_length=200, unique=True)
    message_id = models.CharField(max_length=255)
    created_at = models.DateTimeField(db_default=Now())
    next_attempt_at = models.DateTimeField(db_default=Now())
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "email_delivery"
        verbose_name_plural = "email deliveries"
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="email_delivery_status_idx"),
            models.Index(fields=["recipient", "created_at"], name="email_delivery_recipient_idx"),
            models.Index(fields=["user", "kind", "created_at"], name="email_delivery_user_kind_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["queued", "sending", "sent", "failed"]),
                name="email_delivery_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} to {self.recipient} ({self.status})"


class EmailPayload(models.Model):
    """The template context of one EmailDelivery, kept apart from the audited log.

    Password-reset and verification links are bearer tokens: they must not be copied
    into the audit log, so this table opts out of auditing and the row is deleted once
    the email is sent or has failed for good.
    """

    AUDIT = False

    delivery = models.OneToOneField(EmailDelivery, on_delete=models.CASCADE, primary_key=True, related_name="payload")
    context = models.JSONField(default=dict)

    class Meta:
        db_table = "email_payload"

    def __str__(self) -> str:
        return f"payload of delivery {self.delivery_id}"


class DigestStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    BATCHED = "batched", "In a digest"
    DROPPED = "dropped", "Dropped (email turned off)"


class DigestItem(models.Model):
    """A notification waiting for the user's hourly, daily or weekly digest email.

    Not audited: the digest email it ends up in is (EmailDelivery), and notifications
    are high-volume.
    """

    AUDIT = False

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=64)
    summary = models.CharField(max_length=500)
    url = models.CharField(max_length=500, blank=True, default="")
    idempotency_key = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField(db_default=Now())
    status = models.CharField(max_length=16, choices=DigestStatus.choices, default=DigestStatus.PENDING)
    delivery = models.ForeignKey(EmailDelivery, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        db_table = "email_digest_item"
        indexes = [
            models.Index(fields=["user", "id"], name="digest_item_pending_idx", condition=models.Q(status="pending")),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for user {self.user_id}: {self.summary[:40]}"
