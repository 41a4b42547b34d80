"""The booking lifecycle's tables (PostgreSQL): payments, receipts with their per-year
counter, and the travellers' details of a booking.

Imported at the end of bookings/models.py (the app's models module); relations to the
booking are by name ("bookings.Booking") so this module does not import models.py back.
Payments, receipts and traveller details carry the traveller's `user_id` (a copy of the
booking's) so they share the bookings' row-level security policy (bookings/rls.py).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django_rls.models import RLSModel
from django_rls.policies import CustomPolicy

from bookings.rls import BOOKING_POLICY


class PaymentMethod(models.TextChoices):
    CARD = "card", "Card"
    BANK_TRANSFER = "bank_transfer", "Bank transfer"
    CASH = "cash", "Cash"
    CHEQUE = "cheque", "Cheque"


class Payment(RLSModel):
    """One payment towards a booking, recorded by the booking desk: its amount (minor units
    of the booking's currency), method and reference. Append-only; `Booking.paid_minor` is
    their sum, updated in the same transaction."""

    booking = models.ForeignKey("bookings.Booking", on_delete=models.PROTECT, related_name="payments")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    amount_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    method = models.CharField(max_length=16, choices=PaymentMethod.choices)
    reference = models.CharField(max_length=100)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "bookings_payment"
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount_minor__gt=0), name="bookings_payment_amount_positive"),
            models.CheckConstraint(condition=Q(method__in=PaymentMethod.values), name="bookings_payment_method_valid"),
        ]
        indexes = [models.Index(fields=["booking", "created_at"], name="bookings_payment_booking_idx")]
        rls_policies = [CustomPolicy("payment_owner_or_desk", BOOKING_POLICY, operation="ALL")]

    def __str__(self) -> str:
        return f"Payment #{self.pk} of booking {self.booking_id}: {self.amount_minor} {self.currency}"


class ReceiptCounter(models.Model):
    """The last receipt number given in a year. Incremented with an upsert in the transaction
    of the payment that completes a booking, so the row lock orders concurrent receipts and a
    rolled-back payment gives its number back: the numbers of a year have no gaps and no
    duplicates. Not traveller data (no RLS): it holds only a year and a count."""

    year = models.PositiveSmallIntegerField(primary_key=True)
    last_number = models.PositiveIntegerField()

    class Meta:
        db_table = "bookings_receipt_counter"

    def __str__(self) -> str:
        return f"{self.year}: {self.last_number}"


class Receipt(RLSModel):
    """The receipt of a booking paid in full: number `number` of `year` (gap-free, from
    ReceiptCounter), the amount paid and when it was issued. One per booking."""

    booking = models.OneToOneField("bookings.Booking", on_delete=models.PROTECT, related_name="receipt")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    year = models.PositiveSmallIntegerField()
    number = models.PositiveIntegerField()
    amount_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    issued_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "bookings_receipt"
        ordering = ["year", "number"]
        constraints = [
            models.UniqueConstraint(fields=["year", "number"], name="bookings_receipt_number_unique"),
            models.CheckConstraint(condition=Q(number__gte=1), name="bookings_receipt_number_positive"),
            models.CheckConstraint(condition=Q(amount_minor__gt=0), name="bookings_receipt_amount_positive"),
        ]
        rls_policies = [CustomPolicy("receipt_owner_or_desk", BOOKING_POLICY, operation="ALL")]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        """The printed receipt number, e.g. R2031-000042."""
        return f"R{self.year}-{self.number:06d}"


class BookingTraveller(RLSModel):
    """The name and details of one traveller on a booking (position 1..travellers), entered
    by the traveller or the booking desk until BOOKING_TRAVELLER_EDIT_DAYS before departure.
    Rows past the booking's current number of travellers (after a reduction) are deleted by
    the next save and never shown."""

    booking = models.ForeignKey("bookings.Booking", on_delete=models.PROTECT, related_name="traveller_details")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    position = models.PositiveSmallIntegerField()
    full_name = models.CharField(max_length=200)
    date_of_birth = models.DateField()
    nationality = models.CharField(max_length=60, blank=True, default="")
    passport_number = models.CharField(max_length=20, blank=True, default="")
    notes = models.CharField(max_length=500, blank=True, default="", help_text="Dietary or access needs.")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "bookings_booking_traveller"
        ordering = ["booking", "position"]
        constraints = [
            models.UniqueConstraint(fields=["booking", "position"], name="bookings_traveller_position_unique"),
            models.CheckConstraint(condition=Q(position__gte=1), name="bookings_traveller_position_positive"),
            models.CheckConstraint(condition=~Q(full_name=""), name="bookings_traveller_name_present"),
        ]
        rls_policies = [CustomPolicy("booking_traveller_owner_or_desk", BOOKING_POLICY, operation="ALL")]

    def __str__(self) -> str:
        return f"Traveller {self.position} of booking {self.booking_id}"
