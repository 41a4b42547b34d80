"""An iCalendar (RFC 5545) file for a booking's departure: one all-day event from the
departure date for the trip's length, attached to the confirmation email. Written by hand:
a single VEVENT needs no library, only the text escaping and line folding the RFC asks for."""

from __future__ import annotations

import datetime as dt
from email.utils import parseaddr

from django.conf import settings

PRODID = "-//TaskForge//Bookings//EN"


def ics_text(value: str) -> str:
    """Escape a TEXT value (RFC 5545 3.3.11): backslash, semicolon, comma and newlines."""
    return (
        value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\r\n", "\\n").replace("\n", "\\n")
    )


def _fold(line: str) -> str:
    """Fold a content line to 75 octets per line (RFC 5545 3.1), never inside a UTF-8 sequence."""
    out: list[str] = []
    current = ""
    limit = 75
    for char in line:
        if len((current + char).encode()) > limit:
            out.append(current)
            current = " " + char
            limit = 75
        else:
            current += char
    out.append(current)
    return "\r\n".join(out)


def departure_ics(
    *,
    booking_id: int,
    reference: str,
    trip_name: str,
    resort: str,
    start: dt.date,
    length_days: int,
    travellers: int,
    url: str,
    stamp: dt.datetime,
) -> str:
    """The calendar file of one booking's departure. The UID is stable per booking, so a
    calendar that imports a later copy updates the event instead of adding a second one."""
    domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or "taskforge.local"
    end = start + dt.timedelta(days=max(length_days, 1))  # DTEND of an all-day event is exclusive
    description = f"Booking {reference}: {travellers} traveller{'s' if travellers != 1 else ''}. {url}"
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        f"UID:booking-{booking_id}@{domain}",
        f"DTSTAMP:{stamp.astimezone(dt.UTC):%Y%m%dT%H%M%SZ}",
        f"DTSTART;VALUE=DATE:{start:%Y%m%d}",
        f"DTEND;VALUE=DATE:{end:%Y%m%d}",
        f"SUMMARY:{ics_text(trip_name)}",
        f"LOCATION:{ics_text(resort)}",
        f"DESCRIPTION:{ics_text(description)}",
        f"URL:{url}",
        "TRANSP:OPAQUE",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return "\r\n".join(_fold(line) for line in lines) + "\r\n"
