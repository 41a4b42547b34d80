"""The site's HTML date and time inputs, shared by every form.

A browser's `<input type="date">` (and `datetime-local`, `time`) accepts only an ISO 8601
value. Django's default widgets format with the active locale (en-gb: `10/06/2027`), which
the browser shows as an empty field, so an edit form would drop the saved date. These
widgets always write ISO values; the fields parse them under every locale.
"""

from __future__ import annotations

from typing import Any

from django import forms

ISO_DATE = "%Y-%m-%d"
ISO_DATETIME_LOCAL = "%Y-%m-%dT%H:%M"
ISO_TIME = "%H:%M"


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs, format=ISO_DATE)


class DateTimeInput(forms.DateTimeInput):
    """A `datetime-local` input (minutes); the field shows and parses it in the current time zone."""

    input_type = "datetime-local"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs, format=ISO_DATETIME_LOCAL)


class TimeInput(forms.TimeInput):
    input_type = "time"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs, format=ISO_TIME)
