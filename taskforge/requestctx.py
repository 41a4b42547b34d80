"""Request-scoped values shared by logging and Celery: the request id."""

from __future__ import annotations

from contextvars import ContextVar

request_id_var: ContextVar[str] = ContextVar("taskforge_request_id", default="-")
