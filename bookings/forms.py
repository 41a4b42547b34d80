"""Forms of the bookings app: parsing and field-level validation only (rules live in services)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.conf import settings
from django.core.validators import MaxValueValidator, RegexValidator

from bookings.content import parse_itinerary, parse_keywords
from bookings.models import TRIP_CODE_MESSAGE, TRIP_CODE_PATTERN, BookingStatus, Currency, PriceRange
from bookings.policy import (
    CANCEL_REASON_MAX_LENGTH,
    CANCEL_REASON_REQUIRED,
    CANCEL_REASON_TOO_LONG,
    PAYMENT_REFERENCE_RULE,
    TRAVELLERS_AT_LEAST_ONE,
    TRAVELLERS_WHOLE_NUMBER,
    travellers_at_most_message,
)
from bookings.selectors import CatalogueFilters, StaffBookingFilters
from taskforge.widgets import DateInput

MAX_MONEY = Decimal("1000000")


def _minor(value: Decimal | None) -> int | None:
    """Major units (e.g. 1299.50, already checked for two decimals) to integer minor units."""
    if value is None:
        return None
    return int((value * 100).to_integral_value())


class CatalogueFilterForm(forms.Form):
    """Catalogue filters from the query string."""

    q = forms.CharField(required=False, max_length=100, label="Search")
    resort = forms.CharField(required=False, max_length=120)
    price_range = forms.ChoiceField(required=False, choices=[("", "Any price range"), *PriceRange.choices])
    price_min = forms.DecimalField(required=False, min_value=0, max_value=MAX_MONEY, label="Min price")
    price_max = forms.DecimalField(required=False, min_value=0, max_value=MAX_MONEY, label="Max price")
    start_from = forms.DateField(required=False, widget=DateInput, label="From")
    start_to = forms.DateField(required=False, widget=DateInput, label="To")
    length_min = forms.IntegerField(required=False, min_value=1, max_value=365, label="Min days")
    length_max = forms.IntegerField(required=False, min_value=1, max_value=365, label="Max days")
    sort = forms.ChoiceField(
        required=False,
        choices=[
            ("", "Best"),
            ("soonest", "Soonest"),
            ("price", "Price: low to high"),
            ("price_desc", "Price: high to low"),
            ("name", "Name"),
        ],
    )
    page = forms.IntegerField(required=False, min_value=1, max_value=10_000)

    def _clean_money(self, name: str) -> Decimal | None:
        value = self.cleaned_data.get(name)
        if value is not None and value.as_tuple().exponent < -2:  # type: ignore[operator]
            raise forms.ValidationError("Use at most two decimal places.")
        return value

    def clean_price_min(self) -> Decimal | None:
        return self._clean_money("price_min")

    def clean_price_max(self) -> Decimal | None:
        return self._clean_money("price_max")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for low, high, label in (
            ("price_min", "price_max", "price"),
            ("start_from", "start_to", "date"),
            ("length_min", "length_max", "length"),
        ):
            if data.get(low) is not None and data.get(high) is not None and data[low] > data[high]:
                self.add_error(high, f"The maximum {label} must not be below the minimum.")
        return data

    def filters(self) -> CatalogueFilters:
        data = self.cleaned_data
        return CatalogueFilters(
            q=(data.get("q") or "").strip(),
            resort=(data.get("resort") or "").strip(),
            price_range=data.get("price_range") or "",
            price_min_minor=_minor(data.get("price_min")),
            price_max_minor=_minor(data.get("price_max")),
            start_from=data.get("start_from"),
            start_to=data.get("start_to"),
            length_min=data.get("length_min"),
            length_max=data.get("length_max"),
            sort=data.get("sort") or "",
        )


def keywords_clean(raw: str) -> list[str]:
    """The keywords field of the trip forms (staff page and admin) -> a list, or a ValidationError."""
    words = parse_keywords(raw)
    if len(words) > 20:
        raise forms.ValidationError("At most 20 keywords.")
    if any(len(w) > 40 for w in words):
        raise forms.ValidationError("Keep each keyword under 40 characters.")
    return words


def itinerary_clean(raw: str) -> list[dict[str, Any]]:
    """The itinerary field of the trip forms (one line per day) -> days, or a ValidationError."""
    days = parse_itinerary(raw)
    if len(days) > 60:
        raise forms.ValidationError("At most 60 itinerary days.")
    return days


class TripForm(forms.Form):
    """Staff create/edit form of a trip. The image is stored by the view (bookings.images)."""

    code = forms.CharField(
        max_length=20,
        validators=[RegexValidator(TRIP_CODE_PATTERN, TRIP_CODE_MESSAGE)],
        help_text="Up to 20 upper-case letters, digits and hyphens; cannot change later.",
    )
    name = forms.CharField(max_length=200)
    resort = forms.CharField(max_length=120)
    start = forms.DateField(widget=DateInput, help_text="Departure date.")
    length_days = forms.IntegerField(min_value=1, max_value=365, label="Length (days)")
    price = forms.DecimalField(min_value=Decimal("0.01"), max_value=MAX_MONEY, label="Price per person")
    currency = forms.ChoiceField(choices=Currency.choices, initial=Currency.GBP)
    seats = forms.IntegerField(min_value=1, max_value=10_000, label="Seats per departure")
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 8}), max_length=20_000, help_text="Markdown.")
    keywords = forms.CharField(required=False, max_length=1000, help_text="Comma-separated search keywords.")
    itinerary = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
        max_length=20_000,
        help_text="One line per day: 'Title: details'.",
    )
    image = forms.FileField(required=False, help_text="JPEG, PNG or WebP.")
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.editing = editing
        if editing:
            # Read-only, not disabled: the browser sends the code back, and the service refuses
            # a changed one (a disabled field would silently ignore whatever was posted).
            code = self.fields["code"]
            code.required = False
            code.help_text = "The code of a trip cannot change."
            code.widget.attrs.update(readonly=True, **{"aria-readonly": "true"})
        else:
            self.fields["image"].required = True

    def clean_code(self) -> str:
        return (self.cleaned_data.get("code") or "").strip().upper()

    def clean_name(self) -> str:
        return " ".join(self.cleaned_data["name"].split())

    def clean_resort(self) -> str:
        return " ".join(self.cleaned_data["resort"].split())

    def clean_price(self) -> int:
        value = self.cleaned_data["price"]
        if value.as_tuple().exponent < -2:
            raise forms.ValidationError("Use at most two decimal places.")
        return _minor(value) or 0

    def clean_keywords(self) -> list[str]:
        return keywords_clean(self.cleaned_data.get("keywords") or "")

    def clean_itinerary(self) -> list[dict[str, Any]]:
        return itinerary_clean(self.cleaned_data.get("itinerary") or "")

    def clean_image(self) -> Any:
        upload = self.cleaned_data.get("image")
        if upload and upload.size > settings.TRIP_IMAGE_MAX_BYTES:
            raise forms.ValidationError(
                f"The image is too large; the limit is {settings.TRIP_IMAGE_MAX_BYTES // (1024 * 1024)} MB."
            )
        return upload

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.editing and data.get("version") is None:
            self.add_error(None, "The form is missing its version; reload the page.")
        return data


class BookingForm(forms.Form):
    """Book a departure. The total is never taken from here: `expected_total` is only the
    figure the traveller saw, and the service refuses the booking if it does not match."""

    travel_date = forms.TypedChoiceField(choices=(), coerce=dt.date.fromisoformat, label="Departure")
    travellers = forms.IntegerField(
        min_value=1,
        error_messages={"invalid": TRAVELLERS_WHOLE_NUMBER, "min_value": TRAVELLERS_AT_LEAST_ONE},
    )
    expected_total = forms.IntegerField(
        required=False,
        widget=forms.HiddenInput,
        min_value=1,
        error_messages={"invalid": "The total sent with the form is not valid."},
    )
    idempotency_key = forms.UUIDField(
        widget=forms.HiddenInput, error_messages={"invalid": "The form has expired; reload the page."}
    )
    step = forms.ChoiceField(
        choices=[("review", "Review"), ("confirm", "Confirm")], required=False, widget=forms.HiddenInput
    )

    def __init__(
        self, *args: Any, departures: list[dt.date], accepted: list[dt.date] | None = None, **kwargs: Any
    ) -> None:
        """`departures` are offered; `accepted` (default: the same) are let through to the
        service, which says why a departure that has left or closed cannot be booked."""
        super().__init__(*args, **kwargs)
        field = self.fields["travel_date"]
        field.choices = [(d.isoformat(), d.strftime("%a %d %b %Y")) for d in departures]
        if accepted is not None:
            known = {d.isoformat() for d in accepted}
            field.valid_value = lambda value: str(value) in known
        self.fields["travel_date"].error_messages["invalid_choice"] = "Choose one of the trip's departure dates."
        # The limit is a setting, so it is attached here rather than at class definition.
        travellers = self.fields["travellers"]
        travellers.validators.append(
            MaxValueValidator(settings.BOOKING_MAX_TRAVELLERS, message=travellers_at_most_message())
        )
        travellers.widget.attrs.update(min=1, max=settings.BOOKING_MAX_TRAVELLERS)


class ReduceForm(forms.Form):
    """Fewer travellers. Without `step=confirm` it only asks for the refund quote; the
    confirmation carries the refund the person was shown (`expected_refund`), and the
    service refuses the change if the policy would now refund something else."""

    travellers = forms.IntegerField(
        min_value=1, error_messages={"invalid": TRAVELLERS_WHOLE_NUMBER, "min_value": TRAVELLERS_AT_LEAST_ONE}
    )
    expected_refund = forms.IntegerField(
        required=False,
        widget=forms.HiddenInput,
        min_value=0,
        error_messages={"invalid": "The refund sent with the form is not valid; review the change again."},
    )
    step = forms.ChoiceField(choices=[("confirm", "Confirm")], required=False, widget=forms.HiddenInput)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if (
            data.get("step") == "confirm"
            and data.get("expected_refund") is None
            and "expected_refund" not in self.errors
        ):
            self.add_error(None, "Review the refund before confirming the change.")
        return data


class StaffCancelForm(forms.Form):
    """The booking desk cancels with a reason (the service checks it again)."""

    reason = forms.CharField(
        max_length=CANCEL_REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": CANCEL_REASON_REQUIRED, "max_length": CANCEL_REASON_TOO_LONG},
    )
    full_refund = forms.BooleanField(required=False, label="Refund in full (cancelled by us)")


class PaymentForm(forms.Form):
    """The booking desk records a payment reference (the service checks its characters)."""

    reference = forms.CharField(
        max_length=100,
        label="Payment reference",
        error_messages={"required": PAYMENT_REFERENCE_RULE, "max_length": PAYMENT_REFERENCE_RULE},
    )


class StaffBookingFilterForm(forms.Form):
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *BookingStatus.choices])
    trip = forms.CharField(required=False, max_length=20, label="Trip code")
    travel_from = forms.DateField(required=False, widget=DateInput, label="Travel from")
    travel_to = forms.DateField(required=False, widget=DateInput, label="Travel to")
    traveller = forms.CharField(required=False, max_length=254, label="Traveller email")
    page = forms.IntegerField(required=False, min_value=1, max_value=100_000)

    def filters(self) -> StaffBookingFilters:
        data = self.cleaned_data
        return StaffBookingFilters(
            status=data.get("status") or "",
            trip=data.get("trip") or "",
            travel_from=data.get("travel_from"),
            travel_to=data.get("travel_to"),
            traveller=data.get("traveller") or "",
        )


def price_input(minor: int) -> Decimal:
    """Minor units back to the decimal the form shows."""
    try:
        return (Decimal(minor) / 100).quantize(Decimal("0.01"))
    except InvalidOperation:  # pragma: no cover - ints always convert
        return Decimal(0)


class DepartureForm(forms.Form):
    """A departure of a trip, added or changed by a catalogue editor (the date only when added).
    An empty price means the trip's price."""

    date = forms.DateField(widget=DateInput, label="Departure date")
    seats = forms.IntegerField(min_value=1, max_value=10_000)
    price = forms.DecimalField(
        required=False, min_value=Decimal("0.01"), max_value=MAX_MONEY, label="Price per person (empty: the trip's)"
    )
    status = forms.ChoiceField(choices=[("open", "Open"), ("closed", "Closed")], initial="open")

    def __init__(self, *args: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if editing:
            del self.fields["date"]

    def clean_price(self) -> int | None:
        value = self.cleaned_data.get("price")
        if value is not None and value.as_tuple().exponent < -2:  # type: ignore[operator]
            raise forms.ValidationError("Use at most two decimal places.")
        return _minor(value)


class DepartureCancelForm(forms.Form):
    """Cancel a departure with a reason (the service checks it again)."""

    reason = forms.CharField(
        max_length=CANCEL_REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": CANCEL_REASON_REQUIRED, "max_length": CANCEL_REASON_TOO_LONG},
    )


class DepartureMoveForm(forms.Form):
    """The traveller of a cancelled departure picks another departure of the same trip."""

    departure = forms.TypedChoiceField(
        choices=(), coerce=int, error_messages={"invalid_choice": "Choose one of the departures offered."}
    )

    def __init__(self, *args: Any, choices: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["departure"].choices = choices


class WaitlistJoinForm(forms.Form):
    """Join a full departure's waiting list for a number of travellers."""

    travel_date = forms.DateField(error_messages={"invalid": "Choose one of the trip's departure dates."})
    travellers = forms.IntegerField(
        min_value=1, error_messages={"invalid": TRAVELLERS_WHOLE_NUMBER, "min_value": TRAVELLERS_AT_LEAST_ONE}
    )
