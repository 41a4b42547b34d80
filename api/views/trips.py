"""The public trip catalogue (no token needed): search with filters through the catalogue
selector (ranked full-text search with the typo fallback), and a trip's details."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.cache import cache
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from api.conventions import ApiView
from api.pagination import paginate_pages
from api.permissions import Anyone, TokenScope
from api.serializers.trips import TripListItemSerializer, TripPageSerializer, TripQuerySerializer, TripSerializer
from bookings import selectors
from bookings.cache import catalogue_cache_key
from bookings.forms import CatalogueFilterForm

CODE = OpenApiParameter(
    "code",
    str,
    OpenApiParameter.PATH,
    description="The trip's code",
    examples=[OpenApiExample("code", value="ALP-001")],
)


class TripListView(ApiView):
    permission_classes = (Anyone, TokenScope)
    query_serializer = TripQuerySerializer
    extra_problem_codes = {"GET": (404,)}  # an invalid cursor

    @extend_schema(
        operation_id="trips_search",
        summary="Search the trip catalogue",
        parameters=[TripQuerySerializer],
        responses={200: TripPageSerializer},
        auth=[{}, {"bearerAuth": []}],
        examples=[
            OpenApiExample(
                "search",
                value={
                    "results": [
                        {
                            "code": "ALP-001",
                            "name": "Alpine lakes",
                            "resort": "Chamonix",
                            "price_minor": 129900,
                            "currency": "GBP",
                            "price_range": "mid-range",
                            "start": "2027-02-01",
                            "length_days": 7,
                            "thumbnail_url": "/trips/images/thumb.jpg",
                            "snippet_html": "walks by the <mark>lakes</mark>",
                        }
                    ],
                    "next": "https://taskforge.example/api/v1/trips/?q=lakes&cursor=Mg%3AxYz",
                    "previous": None,
                    "mode": "search",
                    "corrected_query": "",
                    "total": 1,
                    "total_capped": False,
                },
                response_only=True,
            )
        ],
        tags=["trips"],
    )
    def get(self, request: Request) -> Response:
        # The site's catalogue cache: the same key (retired by any trip change), per host
        # because the answer holds absolute page links.
        key = catalogue_cache_key(request.query_params)
        key = key and f"api:{request.get_host()}:{key}"
        cached = cache.get(key) if key else None
        if cached is not None:
            return Response(cached)
        data = self._search(request)
        if key:
            cache.set(key, data, settings.CATALOGUE_CACHE_SECONDS)
        return Response(data)

    def _search(self, request: Request) -> dict[str, Any]:
        params = {k: v for k, v in request.query_params.items() if k in CatalogueFilterForm.base_fields and k != "page"}
        form = CatalogueFilterForm(params)
        if not form.is_valid():
            raise ValidationError({field: [str(e) for e in errors] for field, errors in form.errors.items()})
        filters = form.filters()
        pages: dict[int, selectors.CataloguePage] = {}

        def fetch(page: int) -> tuple[list[selectors.CatalogueItem], bool]:
            pages[page] = selectors.catalogue_page(filters, page)
            return pages[page].items, pages[page].has_next

        items, next_link, previous_link = paginate_pages(request, fetch, last_page=selectors.MAX_PAGE)
        result = next(iter(pages.values()))
        return {
            "results": [dict(item) for item in TripListItemSerializer(items, many=True).data],
            "next": next_link,
            "previous": previous_link,
            "mode": result.mode,
            "corrected_query": result.corrected if result.mode == "typo" else "",
            "total": result.total,
            "total_capped": result.total_capped,
        }


class TripDetailView(ApiView):
    permission_classes = (Anyone, TokenScope)

    @extend_schema(
        operation_id="trip_read",
        summary="A trip's details and its departure",
        parameters=[CODE],
        responses={200: TripSerializer},
        auth=[{}, {"bearerAuth": []}],
        tags=["trips"],
    )
    def get(self, request: Request, code: str) -> Response:
        page = selectors.trip_page(code, viewer=request.user)
        if page is None:
            raise NotFound("There is no trip with this code.")
        content = page.content or {}
        trip = page.trip
        return Response(
            TripSerializer(
                {
                    "code": trip.code,
                    "name": page.name,
                    "resort": page.resort,
                    "price_minor": trip.price_minor,
                    "currency": trip.currency,
                    "start": trip.start,
                    "length_days": trip.length_days,
                    "active": trip.active,
                    "bookable": page.bookable,
                    "seats_left": page.seats_left,
                    "next_departure": page.departure.date if page.departure else None,
                    "description_html": page.description_html,
                    "keywords": list(content.get("keywords") or []),
                    "itinerary": list(content.get("itinerary") or []),
                    "details_pending": page.content is None,
                }
            ).data
        )
