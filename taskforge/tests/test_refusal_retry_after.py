"""The one mapping from a refusal to an answer keeps the refusal's Retry-After: the middleware
for refusals that reach it, `refusal_headers` for views that answer on their form."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import DatabaseError
from django.forms import CharField, Form
from django.http import HttpResponse
from django.test import RequestFactory
from pymongo.errors import ServerSelectionTimeoutError

from taskforge.errors import RateLimited, ServiceError, Unavailable, form_refusal, refusal_headers
from taskforge.middleware import ServiceErrorMiddleware
from taskforge.mongo import DocumentStoreUnavailable

pytestmark = pytest.mark.django_db


def _answer(exc: Exception) -> HttpResponse:
    request = RequestFactory().post("/somewhere/")
    request.user = AnonymousUser()
    response = ServiceErrorMiddleware(lambda r: HttpResponse()).process_exception(request, exc)
    assert response is not None
    return response


def test_a_rate_limit_reaching_the_middleware_is_a_429_with_its_retry_after() -> None:
    response = _answer(RateLimited("Too many attempts. Try again later.", retry_after=42))
    assert response.status_code == 429 and response["Retry-After"] == "42"
    assert b"Too many attempts" in response.content


def test_a_store_outage_is_a_503_with_a_retry_after() -> None:
    assert _answer(Unavailable("Down for a moment."))["Retry-After"] == "30"
    assert _answer(ServerSelectionTimeoutError("no server"))["Retry-After"] == "30"
    assert _answer(DocumentStoreUnavailable())["Retry-After"] == "30"


def test_an_orm_error_caused_by_the_document_store_is_a_503() -> None:
    # django-mongodb-backend wraps pymongo's errors in a DatabaseError
    try:
        try:
            raise ServerSelectionTimeoutError("no server")
        except ServerSelectionTimeoutError as cause:
            raise DatabaseError("wrapped") from cause
    except DatabaseError as wrapped:
        response = _answer(wrapped)
    assert response.status_code == 503 and response["Retry-After"] == "30"


def test_other_database_errors_are_not_refusals() -> None:
    request = RequestFactory().get("/somewhere/")
    request.user = AnonymousUser()
    assert ServiceErrorMiddleware(lambda r: HttpResponse()).process_exception(request, DatabaseError("x")) is None
    assert _answer(Unavailable("Down for a while.", retry_after=120))["Retry-After"] == "120"


def test_other_refusals_have_no_retry_after() -> None:
    response = _answer(ServiceError("No.", status=409))
    assert response.status_code == 409 and "Retry-After" not in response


class _EmailForm(Form):
    email = CharField()


def test_a_form_view_answers_a_rate_limit_with_its_status_and_retry_after() -> None:
    form = _EmailForm({"email": "someone@example.com"})
    assert form.is_valid()
    exc = RateLimited("Too many requests.", retry_after=7)
    status = form_refusal(form, exc)
    response = refusal_headers(HttpResponse(status=status), exc)
    assert response.status_code == 429 and response["Retry-After"] == "7"
    assert form.non_field_errors() == ["Too many requests."]
