"""Refusals raised by services, and the one mapping from them to HTTP answers.

Services raise `ServiceError` (or a subclass) with a message for the person and a status:
404 for what they may not know exists, 403 for an action they may not take on something
they can see, 409 for a conflict with the current state, 422/400 for input the rules
refuse, 429 for too many attempts, 503 while a store is down. A refusal that knows when to
try again carries `retry_after` (seconds), sent as the Retry-After header.
`ServiceErrorMiddleware` turns an uncaught one into that answer (a page, or a fragment for
htmx); a view with a form calls `form_refusal()` instead, so the message lands on the form
next to what the person typed, and `refusal_headers()` on its answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse


class ServiceError(Exception):
    """A refused request: a message for the user, the HTTP status, and the form field (None: whole form).

    `errors` names several fields at once (field -> message), when the service checked a
    whole form's worth of input and found more than one thing wrong.
    """

    status = 400
    retry_after: int | None = None  # seconds until a new attempt may succeed (the Retry-After header)

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        field: str | None = None,
        errors: Mapping[str, str] | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.errors = dict(errors or {})
        if status is not None:
            self.status = status
        if retry_after is not None:
            self.retry_after = retry_after


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


class RateLimited(ServiceError):
    """Too many attempts (sign-ins, registrations, ...): try again after `retry_after` seconds."""

    status = 429

    def __init__(self, message: str, *, retry_after: int, field: str | None = None) -> None:
        super().__init__(message, field=field, retry_after=retry_after)


class Unavailable(ServiceError):
    """A store the request needs is down: try again in a moment (nothing was changed)."""

    status = 503


FORM_FORBIDDEN = (
    "You may no longer do this in this team (your role or the team's permissions changed). "
    "Nothing was saved; what you entered is still here."
)


def form_refusal(form: Any, exc: ServiceError | PermissionDenied) -> int:
    """Put a refusal on the form and return the HTTP status to answer with, so the view renders
    the form again with what the person typed. Every view with a form does this one way.

    * a field's message goes on that field when the form shows it (else the message goes on
      the whole form);
    * a permission refused (PermissionDenied, from the team permission check) is a 403 with
      FORM_FORBIDDEN: the person's role changed while they were typing;
    * what the person may not know exists is a 404 page, never the form (Http404).
    """
    if isinstance(exc, PermissionDenied):
        form.add_error(None, FORM_FORBIDDEN)
        return 403
    if exc.status == 404:
        raise Http404(exc.message)
    messages = {**({exc.field: exc.message} if exc.field else {}), **exc.errors}
    shown = {name: text for name, text in messages.items() if _shows(form, name)}
    for name, text in shown.items():
        form.add_error(name, text)
    if not shown:
        form.add_error(None, exc.message)
    return exc.status


def refusal_headers(response: HttpResponse, exc: ServiceError) -> HttpResponse:
    """The headers a refusal asks for on the answer to it (Retry-After), for the middleware
    and for the views that answer a refusal on their form."""
    if exc.retry_after is not None:
        response["Retry-After"] = str(exc.retry_after)
    return response


def _shows(form: Any, name: str) -> bool:
    return name in form.fields and not form.fields[name].widget.is_hidden
