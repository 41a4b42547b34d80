"""What the tests read back from the document store: a trip's stored TripContent in the
payload shape the application uses (bookings.payloads.trip_content_state)."""

from __future__ import annotations

from typing import Any

from bookings.models import TripContent
from bookings.payloads import trip_content_state


def trip_doc(code: str) -> dict[str, Any] | None:
    doc = TripContent.objects.for_code(code)
    return None if doc is None else trip_content_state(doc)
