"""Reading the site's forms the way a browser would (shared by the locust users and the
harness's probes): CSRF tokens, the booking form's fields, hidden inputs, links."""

from __future__ import annotations

import re

CSRF_RE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
HIDDEN_RE = re.compile(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)"')
KEY_RE = re.compile(r'<input[^>]*\bname="idempotency_key"[^>]*>')
VALUE_RE = re.compile(r'\bvalue="([^"]*)"')
DEPARTURE_RE = re.compile(r'<select[^>]*\bname="travel_date"[^>]*>(.*?)</select>', re.S)
OPTION_RE = re.compile(r'<option value="([^"]+)"( selected)?')
TASK_LINK_RE = re.compile(r'href="/tasks/([0-9a-f-]{36})/"')
VERSION_RE = re.compile(r'data-version="(\d+)"')
MOVE_RE = re.compile(r'name="status" value="([a-z_]+)"')
BOOKING_PATH_RE = re.compile(r"^/bookings/(\d+)/$")


def csrf_token(page: str) -> str:
    match = CSRF_RE.search(page)
    return match.group(1) if match else ""


def booking_form(page: str) -> dict[str, str] | None:
    """The booking form's idempotency key and departure (the selected option, else the first)."""
    key, select = KEY_RE.search(page), DEPARTURE_RE.search(page)
    value = VALUE_RE.search(key.group(0)) if key else None
    options = OPTION_RE.findall(select.group(1)) if select else []
    if not value or not options:
        return None
    departure = next((v for v, selected in options if selected), options[0][0])
    return {"idempotency_key": value.group(1), "travel_date": departure}


def hidden_fields(page: str) -> dict[str, str]:
    return dict(HIDDEN_RE.findall(page))
