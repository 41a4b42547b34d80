"""Filters of the report pages (query string). Blank fields take the report's default range."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils import timezone

from bookings.models import Currency
from taskforge.widgets import DateInput

# Reports cover bookings and tasks, not the ends of the calendar: dates outside these years
# are typing mistakes, and near year 1 or 9999 the range arithmetic overflows.
MIN_YEAR, MAX_YEAR = 1900, 2999
DATE_RANGE_MESSAGE = f"Enter a date between {MIN_YEAR} and {MAX_YEAR}."


def year_in_range(value: dt.date) -> None:
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise forms.ValidationError(DATE_RANGE_MESSAGE, code="year_range")


class RangeForm(forms.Form):
    """A date range, both ends inclusive, at most `max_days` long, within MIN_YEAR..MAX_YEAR."""

    start = forms.DateField(required=False, widget=DateInput, label="From", validators=[year_in_range])
    end = forms.DateField(required=False, widget=DateInput, label="To", validators=[year_in_range])

    max_days = 366
    what = "dates"

    def __init__(self, data: Any = None, *, today: dt.date | None = None) -> None:
        super().__init__(data or None)
        self.today = today or timezone.localdate()

    def default_range(self) -> tuple[dt.date, dt.date]:
        return self.today - dt.timedelta(days=89), self.today

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.errors:
            return data
        default_start, default_end = self.default_range()
        start, end = data.get("start"), data.get("end")
        try:
            if start is None and end is not None:
                start = end - (default_end - default_start)
            end = end or (max(default_end, start) if start else default_end)
            start = start or default_start
        except OverflowError:
            raise forms.ValidationError(DATE_RANGE_MESSAGE) from None
        if not (MIN_YEAR <= start.year and end.year <= MAX_YEAR):  # a default end reaching past the limits
            raise forms.ValidationError(DATE_RANGE_MESSAGE)
        if start > end:
            raise forms.ValidationError("“From” must not be after “To”.")
        if (end - start).days + 1 > self.max_days:
            raise forms.ValidationError(f"Choose at most {self.max_days} days of {self.what}.")
        data["start"], data["end"] = start, end
        return data

    def range(self) -> tuple[dt.date, dt.date]:
        """The validated range (defaults for an unbound form)."""
        if not self.is_bound:
            return self.default_range()
        return self.cleaned_data["start"], self.cleaned_data["end"]


class RevenueForm(RangeForm):
    """Revenue per day (at most a year of days) or per month (at most ten years)."""

    currency = forms.ChoiceField(required=False, choices=[("", "Largest"), *Currency.choices], label="Chart currency")

    def __init__(self, data: Any = None, *, period: str, today: dt.date | None = None) -> None:
        self.period = period
        self.max_days = 366 if period == "day" else 3660
        self.what = "booking dates"
        super().__init__(data, today=today)

    def default_range(self) -> tuple[dt.date, dt.date]:
        if self.period == "day":
            return self.today - dt.timedelta(days=89), self.today
        first = self.today.replace(day=1)
        for _ in range(11):
            first = (first - dt.timedelta(days=1)).replace(day=1)
        return first, self.today

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.period == "month" and data.get("start"):
            data["start"] = data["start"].replace(day=1)  # whole months
        return data

    def currency_choice(self) -> str:
        return (self.cleaned_data.get("currency") if self.is_bound and self.is_valid() else "") or ""


class ResortForm(RangeForm):
    max_days = 3660
    what = "booking dates"

    def default_range(self) -> tuple[dt.date, dt.date]:
        return self.today - dt.timedelta(days=364), self.today


class SeatForm(RangeForm):
    """Departure dates: by default the last 30 days and the coming year."""

    max_days = 1100
    what = "departure dates"

    def default_range(self) -> tuple[dt.date, dt.date]:
        return self.today - dt.timedelta(days=30), self.today + dt.timedelta(days=365)


class TaskFlowForm(RangeForm):
    """Weeks (by their Monday); optionally one team for the charts."""

    team = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1, widget=forms.HiddenInput)
    max_days = 731
    what = "weeks"

    def default_range(self) -> tuple[dt.date, dt.date]:
        monday = self.today - dt.timedelta(days=self.today.weekday())
        return monday - dt.timedelta(weeks=11), self.today

    def team_choice(self) -> int | None:
        return self.cleaned_data.get("team") if self.is_bound and self.is_valid() else None
