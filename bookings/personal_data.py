"""The bookings app's part of "Download my data" and "Delete my account", through the
registry the accounts app owns (accounts/export.py; this module is imported by
AccountsConfig.ready).

Reads and writes run under the person's own database context: RLS lets a traveller read
and update their own bookings (staff: all, filtered here by the person's id), so the audit
rows of the erasure's updates name the real actor and role.
"""

from __future__ import annotations

from typing import Any

from accounts.export import ErasureSubject, eraser_register, exporter_register, scrub_text
from bookings.models import Booking, BookingTraveller, Payment
from bookings.services import bookings_cancel_for_erasure


def bookings_export(user: Any) -> list[dict[str, Any]]:
    """Every booking of the person, with its fields."""
    return list(
        Booking.objects.filter(user_id=user.pk)
        .order_by("booking_date")
        .values(
            "id",
            "trip_id",
            "travel_date",
            "travellers",
            "removed_travellers",
            "unit_price_minor",
            "total_minor",
            "currency",
            "status",
            "payment_reference",
            "refund_minor",
            "cancel_reason",
            "booking_date",
            "confirmed_at",
            "cancelled_at",
        )
    )


def booking_travellers_export(user: Any) -> list[dict[str, Any]]:
    """The names and details entered for the travellers of the person's bookings."""
    return list(
        BookingTraveller.objects.filter(user_id=user.pk)
        .order_by("booking_id", "position")
        .values("booking_id", "position", "full_name", "date_of_birth", "nationality", "passport_number", "notes")
    )


def payments_export(user: Any) -> list[dict[str, Any]]:
    return list(
        Payment.objects.filter(user_id=user.pk)
        .order_by("created_at", "id")
        .values("booking_id", "amount_minor", "currency", "method", "reference", "created_at")
    )


def booking_travellers_erase(subject: ErasureSubject) -> dict[str, int]:
    """Travellers' names, birth dates and passport numbers go; payments and receipts stay for
    accounting (amounts and references, no names)."""
    deleted, _ = BookingTraveller.objects.filter(user_id=subject.user_id).delete()
    return {"traveller_details_deleted": deleted}


def bookings_erase(subject: ErasureSubject) -> dict[str, int]:
    """Bookings stay for accounting (they point at the pseudonymised user); free text loses the person."""
    changed = 0
    for booking in Booking.objects.filter(user_id=subject.user_id).exclude(cancel_reason=""):
        scrubbed = scrub_text(booking.cancel_reason, subject)
        if scrubbed != booking.cancel_reason:
            Booking.objects.filter(pk=booking.pk).update(cancel_reason=scrubbed)
            changed += 1
    kept = Booking.objects.filter(user_id=subject.user_id).count()
    return {"bookings_kept": kept, "bookings_scrubbed": changed}


def pending_bookings_erase(subject: ErasureSubject) -> dict[str, int]:
    """Pending, unpaid bookings are cancelled and their seats released, in the erasure's transaction."""
    return bookings_cancel_for_erasure(user_id=subject.user_id)


exporter_register("bookings", bookings_export)
exporter_register("booking_travellers", booking_travellers_export)
exporter_register("booking_payments", payments_export)
eraser_register("booking_travellers", booking_travellers_erase)
eraser_register("bookings", bookings_erase)
eraser_register("bookings_pending", pending_bookings_erase)
