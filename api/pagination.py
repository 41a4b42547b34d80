"""Cursor pagination for every list of the API, one response shape:
`{"results": [...], "next": <url or null>, "previous": <url or null>}`.

* `ApiCursorPagination`: querysets (DRF's cursor pagination: stable under inserts; the
  view sets `ordering`, a unique-ending tuple such as ("-created_at", "-id")).
* `paginate_pages()`: lists that come from a selector page by page (the catalogue's
  ranked search): the cursor is an opaque, signed page position.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.core import signing
from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from taskforge.params import int_param

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
CURSOR_PARAM = "cursor"
INVALID_CURSOR = "The cursor is not valid; start again from the first page."
_SIGNER = signing.Signer(salt="api.pagination")


class ApiCursorPagination(CursorPagination):
    page_size = PAGE_SIZE
    max_page_size = MAX_PAGE_SIZE
    page_size_query_param = "page_size"
    cursor_query_param = CURSOR_PARAM
    ordering = ("-id",)
    invalid_cursor_message = INVALID_CURSOR

    def get_page_size(self, request: Request) -> int:
        return page_size_param(request)  # one rule for every list (DRF's own ignores bad values)

    def get_ordering(self, request: Request, queryset: Any, view: Any) -> tuple[str, ...]:
        return tuple(getattr(view, "ordering", None) or self.ordering)

    def get_paginated_response(self, data: Any) -> Response:
        return Response({"results": data, "next": self.get_next_link(), "previous": self.get_previous_link()})

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return page_schema(schema)


def page_schema(schema: dict[str, Any]) -> dict[str, Any]:
    link = {"type": "string", "format": "uri", "nullable": True}
    return {
        "type": "object",
        "required": ["results", "next", "previous"],
        "properties": {
            "results": schema,
            "next": {**link, "example": "https://taskforge.example/api/v1/teams/?cursor=cD0yMDI0"},
            "previous": link,
        },
    }


def paginate_pages(
    request: Request, fetch: Callable[[int], tuple[Sequence[Any], bool]], *, last_page: int
) -> tuple[Sequence[Any], str | None, str | None]:
    """(items, next link, previous link) for a selector that serves numbered pages:
    `fetch(page)` returns (items, has_next)."""
    raw = request.query_params.get(CURSOR_PARAM)
    page = 1
    if raw:
        try:
            page = int(_SIGNER.unsign(raw))
        except (signing.BadSignature, ValueError):
            raise NotFound(INVALID_CURSOR) from None
        if not 1 <= page <= last_page:
            raise NotFound(INVALID_CURSOR)
    items, has_next = fetch(page)
    url = request.build_absolute_uri()

    def link(target: int) -> str:
        if target == 1:
            return remove_query_param(url, CURSOR_PARAM)
        return replace_query_param(url, CURSOR_PARAM, _SIGNER.sign(str(target)))

    return items, link(page + 1) if has_next else None, link(page - 1) if page > 1 else None


def paginate_list(request: Request, items: Sequence[Any], serialize: Callable[[Any], Any]) -> Response:
    """A cursor page of a short list a selector returns whole (a team's members)."""
    size = page_size_param(request)
    last_page = max(1, -(-len(items) // size))

    def fetch(page: int) -> tuple[Sequence[Any], bool]:
        start = (page - 1) * size
        return items[start : start + size], start + size < len(items)

    page_items, next_link, previous_link = paginate_pages(request, fetch, last_page=last_page)
    return Response({"results": [serialize(item) for item in page_items], "next": next_link, "previous": previous_link})


def page_size_param(request: Request) -> int:
    """`page_size`: PAGE_SIZE when missing; a whole number up to MAX_PAGE_SIZE, else a 400
    (the site's one typed reader, taskforge.params)."""
    return int_param(request, "page_size", minimum=1, maximum=MAX_PAGE_SIZE) or PAGE_SIZE
