"""Template helpers of the bookings app: money from minor units."""

from __future__ import annotations

from django import template

from bookings.images import trip_image_placeholder_url
from bookings.images import trip_image_url as _trip_image_url
from bookings.policy import money as _money

register = template.Library()


@register.simple_tag
def money(amount_minor: int | None, currency: str) -> str:
    return _money(amount_minor, currency)


@register.filter
def trip_image_url(path: str) -> str:
    """URL of a stored trip image ("trips/<hex>.jpg" -> /trips/images/<hex>.jpg); the
    placeholder's when there is none or its file is missing."""
    return _trip_image_url(path)


@register.simple_tag
def trip_image_placeholder() -> str:
    """The placeholder's URL, for `data-fallback` (site.js swaps it in when an image fails to load)."""
    return trip_image_placeholder_url()


@register.simple_tag
def booking_ref(booking_id: int) -> str:
    return f"B{int(booking_id):06d}"


@register.filter
def status_badge(status: str) -> str:
    return {"confirmed": "ok", "cancelled": "danger", "pending": "warn"}.get(status, "")
