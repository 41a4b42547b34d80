"""The base view of every API endpoint, and the helpers the resources share.

`ApiView` (a DRF APIView) gives each endpoint, in one place:

* rate limits per client IP (before authentication) and per token (api.throttling);
* authentication by bearer token or session (+CSRF), the token's scope, and then the
  same row-level-security context on the connection as a page request of that person
  (DatabaseContextMiddleware ran before the view knew who was calling);
* an `ETag` on every successful read, and 304 for a matching `If-None-Match`;
* errors as problem+json (api.problems), RFC 3339 UTC timestamps, snake_case fields.

Helpers for resources: `etag_for()`/`etag_for_version()`, `if_match_check()` (412 on a
stale update), `paginate()` for querysets, api.pagination.paginate_pages() for page-served
lists, api.idempotency.idempotent for creating POSTs.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.db.models import QuerySet
from django.utils.cache import patch_vary_headers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.utils.encoders import JSONEncoder
from rest_framework.views import APIView

from api.authentication import BearerTokenAuthentication, SessionCsrfAuthentication
from api.pagination import ApiCursorPagination
from api.permissions import SignedIn, TokenScope
from api.problems import PreconditionFailed, PreconditionRequired
from api.throttling import IpRateThrottle, TokenRateThrottle
from taskforge.dbcontext import context_for_user, context_reset, context_set
from taskforge.middleware import client_ip

SAFE_READS = ("GET", "HEAD")


def etag_for(data: Any) -> str:
    """A strong ETag of a representation (the JSON the client receives)."""
    raw = json.dumps(data, cls=JSONEncoder, sort_keys=True, separators=(",", ":"))
    return '"' + hashlib.sha256(raw.encode()).hexdigest()[:32] + '"'


def etag_for_version(kind: str, pk: Any, version: int) -> str:
    """An ETag from a row's version column: what services compare in a version-guarded
    update, so If-Match races are decided by the database, not by a read-then-write."""
    return f'"{kind}-{pk}-v{version}"'


def _tags(header: str) -> list[str]:
    return [part.strip().removeprefix("W/") for part in header.split(",") if part.strip()]


def if_match_check(request: Request, current_etag: str, *, required: bool = False) -> None:
    """412 when If-Match names another version than `current_etag` (428 when `required`
    and missing). Call it before the update; for a race-free update also pass the version
    the client read to the service's version-guarded write (see `if_match_version`)."""
    header = request.headers.get("If-Match")
    if header is None:
        if required:
            raise PreconditionRequired()
        return
    tags = _tags(header)
    if "*" in tags:
        return
    if current_etag not in tags:
        raise PreconditionFailed()


def if_match_version(request: Request, kind: str, pk: Any) -> int | None:
    """The version named by an If-Match made by etag_for_version (None when absent); 412
    for an If-Match that names no version of this object."""
    header = request.headers.get("If-Match")
    if header is None:
        return None
    prefix = f'"{kind}-{pk}-v'
    for tag in _tags(header):
        if (
            tag.startswith(prefix)
            and tag.endswith('"')
            and tag[len(prefix) : -1].isascii()
            and tag[len(prefix) : -1].isdigit()
        ):
            return int(tag[len(prefix) : -1])
    raise PreconditionFailed()


class ApiView(APIView):
    """Base of every endpoint: signed-in callers by default (`permission_classes` of a public
    endpoint is (Anyone,) + the scope check)."""

    authentication_classes = (BearerTokenAuthentication, SessionCsrfAuthentication)
    permission_classes = (SignedIn, TokenScope)
    throttle_classes = (TokenRateThrottle,)
    ordering: tuple[str, ...] = ("-id",)  # of a paginated queryset; must end with a unique field
    paginated = False  # a list: the schema adds `cursor` and `page_size`
    _db_context_token: object | None = None

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # Per IP before authentication, so guessing tokens is limited as well.
        ip_throttle = IpRateThrottle()
        if not ip_throttle.allow_request(request, self):
            self.throttled(request, ip_throttle.wait())
        super().initial(request, *args, **kwargs)

    def perform_authentication(self, request: Request) -> None:
        super().perform_authentication(request)
        # The same RLS context as a page request of this person (the middleware set an
        # anonymous one for a token request); undone in dispatch().
        self._db_context_token = context_set(
            context_for_user(
                request.user,
                ip=client_ip(request._request),
                user_agent=request.META.get("HTTP_USER_AGENT", ""),
                request_id=getattr(request._request, "request_id", ""),
            )
        )

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().dispatch(request, *args, **kwargs)
        finally:
            if self._db_context_token is not None:
                context_reset(self._db_context_token)
                self._db_context_token = None

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        if (
            isinstance(response, Response)
            and request.method in SAFE_READS
            and response.status_code == 200
            and response.data is not None
        ):
            if "ETag" not in response:
                response["ETag"] = etag_for(response.data)
            header = request.headers.get("If-None-Match")
            if header and (response["ETag"] in _tags(header) or "*" in _tags(header)):
                not_modified = Response(status=304, headers={"ETag": response["ETag"]})
                response = not_modified
        response = super().finalize_response(request, response, *args, **kwargs)
        patch_vary_headers(response, ("Authorization", "Cookie"))
        return response

    # --- lists ---------------------------------------------------------------------------
    def paginate(self, queryset: QuerySet, serializer_class: type[BaseSerializer], **context: Any) -> Response:
        """One cursor page of `queryset` (ordered by `self.ordering`), serialized."""
        paginator = ApiCursorPagination()
        page = paginator.paginate_queryset(queryset, self.request, view=self)
        data = serializer_class(page, many=True, context={"request": self.request, **context}).data
        return paginator.get_paginated_response(data)
