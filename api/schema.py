"""The OpenAPI description: every operation gets the error responses that the conventions
can give it (problem+json, with an example each), described once here rather than on
every view; views describe their own bodies, parameters and examples with extend_schema."""

from __future__ import annotations

import inspect
from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from api.pagination import MAX_PAGE_SIZE, PAGE_SIZE
from api.problems import PROBLEM_CONTENT_TYPE, PROBLEM_TYPE_BASE, ProblemSerializer

RETRY_AFTER = {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait before trying again"}}

_STANDARD = {
    400: ("Invalid input: `errors` lists each field's problem", "validation_error", "The request has invalid fields."),
    401: (
        "No valid token (missing, unknown, revoked or expired)",
        "unauthorized",
        "The token is unknown, revoked or expired.",
    ),
    403: (
        "Not allowed: a read-only token, or an action your role does not allow",
        "forbidden",
        "This token is read-only; create a read-write token to make changes.",
    ),
    404: ("Not found, or not visible to you", "not_found", "Not found."),
    406: (
        "The Accept header names no type this API answers with",
        "not_acceptable",
        "Could not satisfy the request Accept header.",
    ),
    409: (
        "Conflict with the current state (or the same Idempotency-Key still in progress)",
        "conflict",
        "A request with this Idempotency-Key is still being processed.",
    ),
    412: (
        "If-Match names a version that is no longer current",
        "precondition_failed",
        "This was changed since you read it; fetch it again and re-apply your change.",
    ),
    415: (
        "The body is not JSON (or form data)",
        "unsupported_media_type",
        'Unsupported media type "text/plain" in request.',
    ),
    422: (
        "Well-formed input that the rules refuse",
        "unprocessable_content",
        "This Idempotency-Key was used for a different request; use a new key.",
    ),
    428: (
        "If-Match is required for this update",
        "precondition_required",
        "Send If-Match with the ETag you read, so a concurrent change is not overwritten.",
    ),
    429: (
        "Too many requests from this token or address",
        "too_many_requests",
        "Request was throttled. Expected available in 12 seconds.",
    ),
    503: (
        "A data store is down; nothing was changed",
        "service_unavailable",
        "Part of the site's data cannot be reached right now; nothing was changed. Please try again in a moment.",
    ),
}


def problem(status: int, description: str | None = None) -> OpenApiResponse:
    """An error response of the conventions, for extend_schema(responses=...)."""
    text, code, detail = _STANDARD[status]
    example = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": code.replace("_", " ").capitalize(),
        "status": status,
        "detail": detail,
        "instance": "/api/v1/…",
    }
    if status == 400:
        example["errors"] = [{"field": "email", "message": "Enter a valid email address."}]
    return OpenApiResponse(
        ProblemSerializer,
        description=description or text,
        examples=[OpenApiExample(code, value=example, response_only=True, status_codes=[str(status)])],
    )


_PAGE_CLASSES: dict[type, type] = {}


def page_of(serializer_class: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """The schema of one cursor page of `serializer_class` items (api.pagination's shape)."""
    if serializer_class not in _PAGE_CLASSES:
        name = serializer_class.__name__.removesuffix("Serializer") + "PageSerializer"
        _PAGE_CLASSES[serializer_class] = type(
            name,
            (serializers.Serializer,),
            {
                "__doc__": "One page of a list: `results`, and links to the next and previous pages.",
                "__module__": __name__,
                "results": serializer_class(many=True),
                "next": serializers.URLField(allow_null=True, help_text="The next page (null on the last)"),
                "previous": serializers.URLField(allow_null=True, help_text="The previous page (null on the first)"),
            },
        )
    return _PAGE_CLASSES[serializer_class]


PAGE_PARAMETERS = [
    OpenApiParameter(
        "cursor", str, OpenApiParameter.QUERY, description="Opaque position from a `next`/`previous` link"
    ),
    OpenApiParameter(
        "page_size",
        int,
        OpenApiParameter.QUERY,
        description=f"Items per page (default {PAGE_SIZE}, at most {MAX_PAGE_SIZE})",
    ),
]


class ApiAutoSchema(AutoSchema):
    """Adds the conventions' responses (errors, Retry-After, ETag) and the pagination
    parameters of list views (`paginated = True`) to every operation."""

    def get_description(self) -> str:
        # The handler's or the view class's own docstring, never the base class's.
        handler = getattr(self.view, self.method.lower(), None)
        doc = getattr(handler, "__doc__", None) or type(self.view).__dict__.get("__doc__") or ""
        return inspect.cleandoc(doc)

    def get_override_parameters(self) -> list[Any]:
        params = list(super().get_override_parameters())
        if getattr(self.view, "paginated", False) and self.method.upper() == "GET":
            params += PAGE_PARAMETERS
        return params

    # Responses each endpoint may give, by what it is.
    def _standard_codes(self) -> list[int]:
        method = self.method.upper()
        # 401 everywhere: a public endpoint refuses an unknown or revoked token too.
        codes = [401, 406, 429, 503]
        if method in ("POST", "PUT", "PATCH", "DELETE"):
            codes += [400, 403, 415]
        elif self._has_query_params():
            codes.append(400)
        if "{" in self.path:
            codes.append(404)
        if getattr(self.view, "paginated", False) and method == "GET":
            codes += [400, 404]  # a bad page size; an invalid cursor
        codes += list(getattr(self.view, "extra_problem_codes", {}).get(method, ()))
        return sorted(set(codes))

    def _has_query_params(self) -> bool:
        return bool(getattr(self.view, "query_serializer", None))

    def _get_response_bodies(self, direction: str = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        for code in self._standard_codes():
            if str(code) not in responses:
                responses[str(code)] = self._get_response_for_code(
                    problem(code), str(code), [PROBLEM_CONTENT_TYPE], direction
                )
        for code, body in responses.items():
            if code in ("429", "503") or (code in ("409",) and self.method.upper() == "POST"):
                body.setdefault("headers", {}).update(RETRY_AFTER)
            if code == "200" and self.method.upper() == "GET":
                body.setdefault("headers", {})["ETag"] = {
                    "schema": {"type": "string"},
                    "description": "The representation's version; send it as If-None-Match (304 when unchanged)",
                }
        if self.method.upper() == "GET" and "304" not in responses:
            responses["304"] = {"description": "Not modified (If-None-Match matched the ETag)"}
        return responses
