"""Refusals raised by services and turned into 4xx answers by views (one hierarchy for all apps)."""

from __future__ import annotations


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
