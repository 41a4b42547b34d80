"""Every HTML date and time input of the site is given an ISO 8601 value, whatever the locale.

A browser's `<input type="date">` only understands `2027-06-10`; with the site's en-gb
locale Django's default widgets write `10/06/2027`, which the browser shows as an empty
field, so an edit form loses the saved date and "This field is required" follows.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django import forms
from django.forms.widgets import DateTimeBaseInput
from django.utils import timezone, translation

import accounts.forms
import audit.forms
import bookings.forms
import reports.forms
import tasks.forms
from tasks.models import CustomFieldType, TeamCustomField

PROJECT_MODULES = (accounts.forms, audit.forms, bookings.forms, reports.forms, tasks.forms)
DAY = dt.date(2027, 6, 10)
MOMENT = dt.datetime(2027, 6, 10, 14, 30, tzinfo=dt.UTC)
EXPECTED = {"date": "2027-06-10", "datetime-local": "2027-06-10T14:30", "time": "14:30"}


def _form_classes() -> list[type[forms.BaseForm]]:
    found: list[type[forms.BaseForm]] = []
    pending = list(forms.BaseForm.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__module__ in {m.__name__ for m in PROJECT_MODULES}:
            found.append(cls)
    return found


def _date_widgets() -> list[tuple[str, forms.Widget]]:
    widgets = []
    for cls in _form_classes():
        for name, field in cls.base_fields.items():
            if isinstance(field.widget, DateTimeBaseInput):
                widgets.append((f"{cls.__name__}.{name}", field.widget))
    return widgets


def _rendered_value(widget: forms.Widget) -> tuple[str, str]:
    kind = widget.attrs.get("type", widget.input_type)
    value = {"date": DAY, "datetime-local": MOMENT, "time": MOMENT.time()}.get(kind, DAY)
    with translation.override("en-gb"), timezone.override(dt.UTC):
        html = widget.render("field", value)
    match = re.search(r'value="([^"]*)"', html)
    return kind, match.group(1) if match else ""


def test_every_date_and_time_input_of_the_site_is_found() -> None:
    names = {name for name, _ in _date_widgets()}
    # The known ones, so the scan below cannot pass by finding nothing.
    assert {
        "TripForm.start",
        "CatalogueFilterForm.start_from",
        "StaffBookingFilterForm.travel_to",
        "RangeForm.start",
        "AuditFilterForm.date_from",
        "TaskFilterForm.due_from",
        "TaskForm.due_at",
    } <= names


@pytest.mark.parametrize("name_widget", _date_widgets(), ids=lambda nw: nw[0])
def test_date_and_time_inputs_render_iso_values(name_widget) -> None:
    name, widget = name_widget
    kind, value = _rendered_value(widget)
    assert kind in EXPECTED, f"{name} is a text input for a date; use taskforge.widgets"
    assert value == EXPECTED[kind], f"{name} renders {value!r}"


def test_a_date_custom_field_of_a_task_renders_an_iso_value() -> None:
    definition = TeamCustomField(key="launch", label="Launch", field_type=CustomFieldType.DATE)
    form = tasks.forms.TaskForm(members=[], custom_fields=[definition], initial={"cf_launch": DAY})
    with translation.override("en-gb"):
        html = str(form["cf_launch"])
    assert 'type="date"' in html and 'value="2027-06-10"' in html
