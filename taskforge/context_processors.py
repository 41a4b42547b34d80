"""Template context shared by every page."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def site(request: HttpRequest) -> dict[str, object]:
    user = getattr(request, "user", None)
    signed_in = user is not None and user.is_authenticated
    return {
        "SITE_NAME": "TaskForge",
        # {% if caps.booking_desk %}: the person's site capabilities (site admins hold all).
        "caps": dict.fromkeys(user.capabilities, True) if signed_in else {},
        "in_a_team": signed_in and user.in_a_team,
        "theme": getattr(request, "theme", "system"),
        "DEBUG": settings.DEBUG,
        # Where static/js/live.js opens its event stream (the live service).
        "LIVE_EVENTS_URL": settings.LIVE_EVENTS_URL or "/events",
    }
