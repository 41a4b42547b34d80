"""Pure business rules of trips and bookings: price range, totals, the cancellation policy
(for a whole booking and for travellers taken off one)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings

from bookings.models import PriceRange

CURRENCY_SYMBOLS = {"GBP": "£", "EUR": "€", "USD": "$"}

# Cancellation policy: (minimum days before travel, percent refunded), first match wins.
REFUND_TIERS: tuple[tuple[int, int], ...] = ((30, 100), (7, 50))

# One wording per rule on the number of travellers, for the forms' field errors and the
# services' refusals alike (a person may meet either, on the same page).
TRAVELLERS_WHOLE_NUMBER = "Enter the number of travellers as a whole number."
TRAVELLERS_AT_LEAST_ONE = "At least one traveller is needed."
# The same for the booking desk's payment reference and cancellation reason.
PAYMENT_REFERENCE_RULE = "Enter a payment reference of up to 100 letters, digits, spaces or . _ / # -"
PAYMENT_AMOUNT_POSITIVE = "Enter the amount paid, more than zero."
PAYMENT_METHOD_RULE = "Choose how it was paid: card, bank transfer, cash or cheque."
CANCEL_REASON_MAX_LENGTH = 500
CANCEL_REASON_REQUIRED = "Give a reason for the cancellation."
CANCEL_REASON_TOO_LONG = f"Keep the reason under {CANCEL_REASON_MAX_LENGTH} characters."


def travellers_at_most_message() -> str:
    """The upper bound is a setting, so the message is made when it is needed."""
    return f"At most {settings.BOOKING_MAX_TRAVELLERS} travellers per booking; contact us for groups."


def price_range_for(price_minor: int) -> str:
    """budget / mid-range / luxury from the price per person (thresholds in settings)."""
    if price_minor < settings.TRIP_PRICE_BUDGET_MAX_MINOR:
        return PriceRange.BUDGET
    if price_minor >= settings.TRIP_PRICE_LUXURY_MIN_MINOR:
        return PriceRange.LUXURY
    return PriceRange.MID_RANGE


def booking_total(unit_price_minor: int, travellers: int) -> int:
    return unit_price_minor * travellers


@dataclass(frozen=True)
class Refund:
    """What a cancellation today would refund."""

    days_before: int
    percent: int
    amount_minor: int


def refund_quote(*, total_minor: int, travel_date: dt.date, today: dt.date) -> Refund:
    """Full refund 30+ days before travel, 50% at 7+ days, nothing after (rounded down to the minor unit)."""
    days = (travel_date - today).days
    percent = next((pct for min_days, pct in REFUND_TIERS if days >= min_days), 0)
    return Refund(days_before=days, percent=percent, amount_minor=total_minor * percent // 100)


@dataclass(frozen=True)
class ReductionQuote:
    """What taking travellers off a booking today would refund: the cancellation policy
    applied to the price of the travellers removed (the rest of that price is kept)."""

    travellers_before: int
    travellers_after: int
    removed_minor: int  # price of the travellers removed
    refund: Refund

    @property
    def removed(self) -> int:
        return self.travellers_before - self.travellers_after

    @property
    def kept_minor(self) -> int:
        """The part of the removed travellers' price that is not refunded (the cancellation charge)."""
        return self.removed_minor - self.refund.amount_minor


def reduction_quote(
    *, unit_price_minor: int, travellers_before: int, travellers_after: int, travel_date: dt.date, today: dt.date
) -> ReductionQuote:
    """The same tiers as a cancellation, on the price of the travellers taken off."""
    removed_minor = booking_total(unit_price_minor, travellers_before - travellers_after)
    return ReductionQuote(
        travellers_before=travellers_before,
        travellers_after=travellers_after,
        removed_minor=removed_minor,
        refund=refund_quote(total_minor=removed_minor, travel_date=travel_date, today=today),
    )


def money(amount_minor: int | None, currency: str) -> str:
    """'£1,234.50' from minor units (all supported currencies have two decimals)."""
    if amount_minor is None:
        return ""
    sign = "-" if amount_minor < 0 else ""
    major, minor = divmod(abs(int(amount_minor)), 100)
    return f"{sign}{CURRENCY_SYMBOLS.get(currency, currency + ' ')}{major:,}.{minor:02d}"


def traveller_details_deadline(travel_date: dt.date) -> dt.date:
    """The last day travellers' names and details may be changed: BOOKING_TRAVELLER_EDIT_DAYS
    before departure."""
    return travel_date - dt.timedelta(days=settings.BOOKING_TRAVELLER_EDIT_DAYS)


def traveller_details_open(travel_date: dt.date, today: dt.date) -> bool:
    return today <= traveller_details_deadline(travel_date)
