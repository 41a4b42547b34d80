"""Django admin for trips and bookings (admins only; RLS lets the admin role see every booking).

Trips are created and edited on the staff pages (they need the outbox and images), so
the admin shows them read-only.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin

from bookings.models import Booking, Departure, Trip


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False


@admin.register(Trip)
class TripAdmin(ReadOnlyAdmin):
    list_display = ("code", "start", "length_days", "price_minor", "currency", "seats", "active", "version")
    list_filter = ("active", "currency")
    search_fields = ("code",)


@admin.register(Departure)
class DepartureAdmin(ReadOnlyAdmin):
    list_display = ("trip", "date", "capacity", "seats_taken")


@admin.register(Booking)
class BookingAdmin(ReadOnlyAdmin):
    list_display = ("id", "user", "trip", "travel_date", "travellers", "total_minor", "currency", "status")
    list_filter = ("status",)
    search_fields = ("user__email", "trip__code", "payment_reference")
    list_select_related = ("user",)
