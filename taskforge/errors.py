"""Refusals raised by services, and the one mapping from them to HTTP answers.

Services raise `ServiceError` (or a subclass) with a message for the person and a status:
404 for what they may not know exists, 403 for an action they may not take on something
they can see, 409 for a conflict with the current state, 422/400 for input the rules
refuse, 503 while a store is down. `ServiceErrorMiddleware` turns an uncaught one into that
answer (a page, or a fragment for htmx); a view with a form calls `form_refusal()` instead,
so the message lands on the form next to what the person typed.
"""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """A refused request: a message for the user, the HTTP status, and the form field (None: whole form)."""

    status = 400

    def __init__(self, message: str, *, status: int | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if status is not None:
            self.status = status


class NotFound(ServiceError):
    """The object does not exist *for this actor* (outsiders get 404, never 403)."""

    status = 404


class Forbidden(ServiceError):
    status = 403


class Conflict(ServiceError):
    status = 409


class Gone(ServiceError):
    status = 410


class Unprocessable(ServiceError):
    """Well-formed input that the rules refuse."""

    status = 422


class Unavailable(ServiceError):
    """A store the request needs is down: try again in a moment (nothing was changed)."""

    status = 503


def form_refusal(form: Any, exc: ServiceError) -> int:
    """Put a refusal on the form (on its field when the form shows that field) and return the
    HTTP status to answer with. Every view with a form does this one way."""
    field = exc.field if exc.field in form.fields and not form.fields[exc.field].widget.is_hidden else None
    form.add_error(field, exc.message)
    return exc.status
