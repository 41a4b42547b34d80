"""The audit browser's filter form."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.core.validators import RegexValidator
from django.utils import timezone

from audit.schema import audited_tables, table_label
from taskforge.widgets import DateInput

IDENT = RegexValidator(r"^[a-z][a-z0-9_]{0,127}$", "Use a table name such as accounts_user (lower case, digits, _).")
OPERATIONS = [("", "any"), ("INSERT", "insert"), ("UPDATE", "update"), ("DELETE", "delete")]
SOURCES = [("live", "live log"), ("archive", "archive")]
# Dates outside these years are typing mistakes, and near the ends of the calendar the
# range arithmetic (the day after "To", time zones) overflows.
MIN_YEAR, MAX_YEAR = 1900, 2999
BIGINT_MAX = 2**63 - 1
DATE_RANGE_MESSAGE = f"Enter a date between {MIN_YEAR} and {MAX_YEAR}."


def year_in_range(value: date) -> None:
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise forms.ValidationError(DATE_RANGE_MESSAGE, code="year_range")


class AuditFilterForm(forms.Form):
    """Filters for /audit/. Every field is optional; bad values are form errors (400)."""

    table = forms.CharField(required=False, max_length=128, validators=[IDENT])
    record = forms.CharField(required=False, max_length=128, label="Record id")
    user = forms.CharField(required=False, max_length=254, label="User (id or email)")
    operation = forms.ChoiceField(required=False, choices=OPERATIONS)
    date_from = forms.DateField(required=False, label="From", validators=[year_in_range], widget=DateInput)
    date_to = forms.DateField(required=False, label="To", validators=[year_in_range], widget=DateInput)
    source = forms.ChoiceField(required=False, choices=SOURCES, initial="live")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # (table name, what people call it): the filter takes the name, the list shows both.
        self.table_suggestions = [(table, table_label(table)) for table in audited_tables()]

    def clean_user(self) -> int | None:
        raw = (self.cleaned_data.get("user") or "").strip()
        if not raw:
            return None
        # isdecimal()+isascii(), not isdigit(): "²" is a digit that int() refuses.
        if raw.isascii() and raw.isdecimal():
            try:
                value = int(raw)
            except ValueError:
                value = 0
            if not 0 < value <= BIGINT_MAX:
                raise forms.ValidationError(f"{raw[:30]} is not a user id.")
            return value
        if "@" not in raw:
            raise forms.ValidationError("Enter a user id (a number) or an email address.")
        user = get_user_model().objects.filter(email__iexact=raw).only("pk").first()
        if user is None:
            raise forms.ValidationError(f"No user has the email address {raw}.")
        return user.pk

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            raise forms.ValidationError("'From' must be on or before 'To'.")
        data["source"] = data.get("source") or "live"
        try:
            self._time_range(start, end)
        except (OverflowError, ValueError):  # a date the validators let through but the calendar cannot extend
            raise forms.ValidationError(DATE_RANGE_MESSAGE) from None
        return data

    @staticmethod
    def _time_range(start: date | None, end: date | None) -> tuple[datetime | None, datetime | None]:
        tz = timezone.get_current_timezone()
        return (
            datetime.combine(start, time.min, tzinfo=tz) if start else None,
            datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz) if end else None,
        )

    def time_range(self) -> tuple[datetime | None, datetime | None]:
        """The dates as an aware [start, end) range in the site's time zone (end date inclusive)."""
        return self._time_range(self.cleaned_data.get("date_from"), self.cleaned_data.get("date_to"))
