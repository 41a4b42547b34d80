"""One rule, one wording (issue 15, item 11): the form and the service say the same thing
about the number of travellers (and about trip codes), so a person never meets the same
rule in two phrasings on one page."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings

from bookings import services
from bookings.forms import BookingForm, ReduceForm, TripForm
from taskforge.errors import ServiceError

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("travellers", ["0", "-3", "two", "1.5", str(settings.BOOKING_MAX_TRAVELLERS + 1)])
def test_travellers_rule_reads_the_same_in_forms_and_services(travellers: str) -> None:
    with pytest.raises(ServiceError) as refused:
        services.booking_quote(trip_code="ANY-1", travel_date=None, travellers=travellers)
    message = refused.value.message
    day = dt.date(2031, 1, 5)
    booking = BookingForm({"travel_date": day.isoformat(), "travellers": travellers}, departures=[day])
    assert not booking.is_valid() and booking.errors["travellers"] == [message]
    reduce = ReduceForm({"travellers": travellers})
    if travellers != str(settings.BOOKING_MAX_TRAVELLERS + 1):  # reducing has no upper bound of its own
        assert not reduce.is_valid() and reduce.errors["travellers"] == [message]


def test_trip_code_rule_reads_the_same_in_form_and_service(make_user) -> None:
    form = TripForm({"code": "bad code!"})
    form.is_valid()
    with pytest.raises(ServiceError) as refused:
        services.trip_create(
            actor=make_user("catalogue_editor"),
            code="bad code!",
            content=services.TripContentInput(name="x", resort="y", description_md="", keywords=[], itinerary=[]),
            start=dt.date(2031, 1, 5),
            length_days=7,
            price_minor=100,
            currency="GBP",
            seats=5,
            image=None,
        )
    assert form.errors["code"] == [refused.value.message]
