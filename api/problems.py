"""Errors as RFC 9457 problem details (`application/problem+json`), in one place.

Every refusal of the API goes through `problem_exception_handler` (REST_FRAMEWORK's
EXCEPTION_HANDLER): DRF's own exceptions (validation with field errors, 401, 403, 404,
405, 406, 415, 429 with Retry-After), `taskforge.errors.ServiceError` from the services
(their status, message, field errors and Retry-After — the same mapping as the site's
ServiceErrorMiddleware), Django's Http404/PermissionDenied, and a document store that is
down (503 with Retry-After).
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from taskforge.errors import ServiceError, Unavailable
from taskforge.middleware import STORE_DOWN
from taskforge.mongo import is_document_store_failure
from taskforge.params import BadParameter

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://taskforge.example/problems/"
STORE_RETRY_AFTER = 30


class PreconditionFailed(exceptions.APIException):
    """If-Match named a version that is no longer current (someone else changed it first)."""

    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = "This was changed since you read it; fetch it again and re-apply your change."
    default_code = "precondition_failed"


class PreconditionRequired(exceptions.APIException):
    status_code = status.HTTP_428_PRECONDITION_REQUIRED
    default_detail = "Send If-Match with the ETag you read, so a concurrent change is not overwritten."
    default_code = "precondition_required"


class FieldErrorSerializer(serializers.Serializer):
    field = serializers.CharField(help_text="The request field (dotted for nested ones; `non_field_errors` for all)")
    message = serializers.CharField()


class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem details."""

    type = serializers.CharField(help_text="A URI naming the kind of problem")
    title = serializers.CharField(help_text="The HTTP status phrase")
    status = serializers.IntegerField()
    detail = serializers.CharField(help_text="What went wrong, for a person")
    instance = serializers.CharField(help_text="The request path")
    errors = FieldErrorSerializer(many=True, required=False, help_text="Field errors (validation)")


def _flatten(detail: Any, prefix: str = "") -> list[dict[str, str]]:
    if isinstance(detail, dict):
        out: list[dict[str, str]] = []
        for key, value in detail.items():
            out += _flatten(value, f"{prefix}.{key}" if prefix else str(key))
        return out
    if isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            return [{"field": prefix or "non_field_errors", "message": str(item)} for item in detail]
        out = []
        for index, item in enumerate(detail):
            out += _flatten(item, f"{prefix}.{index}" if prefix else str(index))
        return out
    return [{"field": prefix or "non_field_errors", "message": str(detail)}]


def problem_response(
    request: Any,
    status_code: int,
    detail: str,
    *,
    code: str = "",
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    phrase = HTTPStatus(status_code).phrase
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + (code or phrase.lower().replace(" ", "_").replace("-", "_")),
        "title": phrase,
        "status": status_code,
        "detail": detail,
        "instance": request.path if request is not None else "",
    }
    if errors:
        body["errors"] = errors
    return Response(body, status=status_code, headers=headers, content_type=PROBLEM_CONTENT_TYPE)


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    request = context.get("request")
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "Not found.")
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or "You may not do this.")
    elif isinstance(exc, BadParameter):  # a query parameter read by taskforge.params
        exc = exceptions.ValidationError({exc.name: [exc.message]})
    if not isinstance(exc, ServiceError) and is_document_store_failure(exc):
        exc = Unavailable(STORE_DOWN, retry_after=STORE_RETRY_AFTER)
    if isinstance(exc, ServiceError):
        set_rollback()
        errors = {**({exc.field: exc.message} if exc.field else {}), **exc.errors}
        headers = {}
        if exc.retry_after is not None:
            headers["Retry-After"] = str(exc.retry_after)
        elif exc.status == 503:
            headers["Retry-After"] = str(STORE_RETRY_AFTER)
        return problem_response(
            request,
            exc.status,
            exc.message,
            errors=[{"field": name, "message": text} for name, text in errors.items()] or None,
            headers=headers,
        )
    if not isinstance(exc, exceptions.APIException):
        return None  # a bug: Django's 500 handling (logged, no details leak)
    set_rollback()
    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header  # type: ignore[attr-defined]
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))  # type: ignore[attr-defined]
    if isinstance(exc, exceptions.ValidationError):
        errors = _flatten(exc.detail)
        detail = "The request has invalid fields." if errors else "The request is invalid."
        return problem_response(
            request, exc.status_code, detail, code="validation_error", errors=errors, headers=headers
        )
    detail = exc.detail if isinstance(exc.detail, str) else "; ".join(str(item) for item in _flatten(exc.detail))
    return problem_response(request, exc.status_code, str(detail), headers=headers)
