"""Request id, database-context and private-cache middleware."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers, patch_vary_headers

from taskforge.dbcontext import context_for_user, context_reset, context_set
from taskforge.requestctx import request_id_var

_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def client_ip(request: HttpRequest) -> str:
    """The client address, trusting X-Forwarded-For only for the configured number of proxies."""
    hops = getattr(settings, "TRUSTED_PROXY_COUNT", 0)
    if hops:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= hops:
            return forwarded[-hops]
    return request.META.get("REMOTE_ADDR", "") or ""


class RequestIdMiddleware:
    """Takes a well-formed X-Request-ID from the proxy or makes one; echoes it on the response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.META.get("HTTP_X_REQUEST_ID", "")
        request_id = incoming if _REQUEST_ID_RE.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response["X-Request-ID"] = request_id
        # Views answer htmx requests with partials: caches must key on the header.
        patch_vary_headers(response, ("HX-Request",))
        return response


class DatabaseContextMiddleware:
    """Puts the acting user, role, IP, user agent and request id on the DB connection for this request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        ctx = context_for_user(
            getattr(request, "user", None),
            ip=client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
            request_id=getattr(request, "request_id", ""),
        )
        token = context_set(ctx)
        try:
            return self.get_response(request)
        finally:
            context_reset(token)


class PrivateResponsesMiddleware:
    """Every response to a signed-in person is marked not to be stored (no-store, private),
    by the browser or any cache on the way: bookings, sessions, profiles, exports, reports
    and audit pages carry personal data. One rule instead of a decorator on each view.

    A view opts into caching by setting Cache-Control itself (the avatar thumbnail's
    "private, max-age=86400"); anonymous responses (the public catalogue and trip pages)
    are left as they are.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        # Read after the view: a sign-in's response is private, a sign-out's is not.
        if user is not None and user.is_authenticated and "Cache-Control" not in response:
            add_never_cache_headers(response)
        return response
