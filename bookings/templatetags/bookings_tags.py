"""Template helpers of the bookings app: money from minor units."""

from __future__ import annotations

from django import template

from bookings.policy import money as _money

register = template.Library()


@register.simple_tag
def money(amount_minor: int | None, currency: str) -> str:
    return _money(amount_minor, currency)


@register.filter
def trip_image_url(path: str) -> str:
    """URL of a stored trip image ("trips/<hex>.jpg" -> /trips/images/<hex>.jpg); '' when none."""
    import os

    from django.urls import reverse

    name = os.path.basename(path or "")
    return reverse("bookings:trip_image", args=[name]) if name else ""


@register.simple_tag
def booking_ref(booking_id: int) -> str:
    return f"B{int(booking_id):06d}"


@register.filter
def status_badge(status: str) -> str:
    return {"confirmed": "ok", "cancelled": "danger", "pending": "warn"}.get(status, "")
