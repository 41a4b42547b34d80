"""Request id, database-context and private-cache middleware."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers, patch_vary_headers

from taskforge.dbcontext import context_for_user, context_reset, context_set
from taskforge.errors import ServiceError, Unavailable, refusal_headers
from taskforge.mongo import is_document_store_failure
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


class ServiceErrorMiddleware:
    """The one mapping from a refused service call to an answer: the refusal's status, its
    message on the error page (or in a fragment for htmx), and 503 while a store is down."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, ServiceError):
            refusal = exception
        elif is_document_store_failure(exception):
            refusal = Unavailable(STORE_DOWN)
        else:
            return None
        status, message = refusal.status, refusal.message
        if status == 404:
            raise Http404(message)
        template = "partials/error.html" if request.headers.get("HX-Request") == "true" else "refused.html"
        response = render(request, template, {"message": message, "status": status}, status=status)
        if status == 503 and refusal.retry_after is None:
            response["Retry-After"] = "30"
        return refusal_headers(response, refusal)


STORE_DOWN = "Part of the site's data cannot be reached right now; nothing was changed. Please try again in a moment."
