"""form_refusal: the one way a form view shows a refused service call, keeping the input."""

from __future__ import annotations

import pytest
from django import forms
from django.core.exceptions import PermissionDenied
from django.http import Http404

from taskforge.errors import FORM_FORBIDDEN, Conflict, NotFound, ServiceError, Unavailable, form_refusal


class _Form(forms.Form):
    title = forms.CharField()
    body = forms.CharField(required=False)
    version = forms.IntegerField(widget=forms.HiddenInput(), required=False)


def _form() -> _Form:
    form = _Form({"title": "My title", "body": "My words", "version": "3"})
    assert form.is_valid()
    return form


def test_each_named_field_gets_its_message_and_the_input_stays() -> None:
    form = _form()
    refused = ServiceError("Please correct the fields.", errors={"title": "Too long.", "body": "Empty."})
    assert form_refusal(form, refused) == 400
    assert form.errors == {"title": ["Too long."], "body": ["Empty."]}
    assert form["title"].value() == "My title" and form["body"].value() == "My words"


def test_a_single_field_or_a_field_the_form_does_not_show_falls_back_to_the_whole_form() -> None:
    form = _form()
    assert form_refusal(form, ServiceError("Too long.", field="title")) == 400
    assert form.errors == {"title": ["Too long."]}
    hidden = _form()
    assert form_refusal(hidden, Conflict("Changed meanwhile.", errors={"version": "stale", "other": "x"})) == 409
    assert hidden.errors == {"__all__": ["Changed meanwhile."]}
    down = _form()
    assert form_refusal(down, Unavailable("Try again in a minute.")) == 503
    assert down.non_field_errors() == ["Try again in a minute."]


def test_a_permission_refused_meanwhile_is_a_403_on_the_form() -> None:
    form = _form()
    assert form_refusal(form, PermissionDenied("you need the 'task.create' permission")) == 403
    assert form.non_field_errors() == [FORM_FORBIDDEN]
    assert form["body"].value() == "My words"


def test_what_the_person_may_not_know_exists_is_a_404_not_the_form() -> None:
    form = _form()
    with pytest.raises(Http404, match="No such task"):
        form_refusal(form, NotFound("No such task."))
    assert not form.has_error("title") and not form.non_field_errors()
