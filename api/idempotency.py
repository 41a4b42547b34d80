"""`Idempotency-Key` on POSTs that create something: a repeat of the same request with the
same key returns the first response (status and body), marked `Idempotent-Replayed: true`.

Keys are kept in Redis for IDEMPOTENCY_TTL per caller (person, or client IP for anonymous
calls). The first request claims the key atomically (SET NX); a repeat that arrives while
the first is still running gets 409 with Retry-After; the same key with a different
request (method, path or body) gets 422. If Redis is unreachable, a request that carries a
key is refused with 503 rather than risk doing the work twice.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import APIException
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from accounts.redisutil import RedisUnavailable, redis_client, rkey
from taskforge.errors import Conflict, ServiceError, Unavailable, Unprocessable
from taskforge.middleware import client_ip

REFUSALS = (ServiceError, APIException, Http404, PermissionDenied)
HEADER = "Idempotency-Key"
IDEMPOTENCY_TTL = 24 * 3600
PENDING_TTL = 120  # a claim whose request died is released after this long
KEY_RE = re.compile(r"^[\x21-\x7e]{1,255}$")
REPLAYED_HEADER = "Idempotent-Replayed"
_KEPT_HEADERS = ("Location", "ETag")

IDEMPOTENCY_PARAMETER = OpenApiParameter(
    HEADER,
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="A unique key (1-255 printable ASCII characters, e.g. a UUID) for this create. Sending the same "
    "request again with the same key within 24 hours returns the first response instead of creating twice.",
)


def _fingerprint(request: Request) -> str:
    digest = hashlib.sha256()
    digest.update(f"{request.method} {request.path}\n".encode())
    digest.update(request._request.body)
    return digest.hexdigest()


def idempotent(handler: Callable[..., Response]) -> Callable[..., Response]:
    """Decorate a view's `post` that creates something."""

    @wraps(handler)
    def wrapper(view: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = request.headers.get(HEADER)
        if key is None:
            return handler(view, request, *args, **kwargs)
        if not KEY_RE.match(key):
            raise ServiceError(f"{HEADER} must be 1 to 255 printable ASCII characters.", field=HEADER)
        who = f"u{request.user.pk}" if request.user.is_authenticated else f"ip{client_ip(request._request)}"
        name = rkey(f"api:idem:{who}:{hashlib.sha256(key.encode()).hexdigest()}")
        fingerprint = _fingerprint(request)
        try:
            client = redis_client()
            claimed = client.set(name, json.dumps({"state": "pending", "fp": fingerprint}), nx=True, ex=PENDING_TTL)
            stored = None if claimed else client.get(name)
        except RedisUnavailable:
            raise Unavailable(
                "Idempotency keys cannot be checked right now; try again shortly.", retry_after=5
            ) from None
        if not claimed:
            if stored is None:  # expired between the two calls: treat as in progress
                raise Conflict("A request with this Idempotency-Key is being processed.", retry_after=1)
            return _replay(json.loads(stored), fingerprint)
        try:
            response = handler(view, request, *args, **kwargs)
        except REFUSALS as exc:
            # A refusal is an answer too: render it now so a repeat gets the same one.
            response = view.handle_exception(exc)
        except BaseException:
            _forget(client, name)
            raise
        if response.status_code >= 500 or response.status_code in (409, 429):
            _forget(client, name)  # transient: a retry with the same key may do the work
            return response
        record = {
            "state": "done",
            "fp": fingerprint,
            "status": response.status_code,
            "data": response.data,
            "headers": {h: response[h] for h in _KEPT_HEADERS if h in response},
            "content_type": response.content_type,  # problem+json for a refusal
        }
        try:
            client.set(name, json.dumps(record, cls=JSONEncoder), ex=IDEMPOTENCY_TTL)
        except RedisUnavailable:
            pass  # the work is done; a repeat after this would be refused as pending, then retried
        return response

    return wrapper


def _forget(client: Any, name: str) -> None:
    try:
        client.delete(name)
    except RedisUnavailable:
        pass


def _replay(record: dict[str, Any], fingerprint: str) -> Response:
    if record.get("fp") != fingerprint:
        raise Unprocessable(f"This {HEADER} was used for a different request; use a new key.", field=HEADER)
    if record.get("state") != "done":
        raise Conflict("A request with this Idempotency-Key is still being processed.", retry_after=1)
    response = Response(
        record["data"],
        status=record["status"],
        headers=record.get("headers") or {},
        content_type=record.get("content_type"),
    )
    response[REPLAYED_HEADER] = "true"
    return response
