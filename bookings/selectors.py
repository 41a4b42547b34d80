"""Reads of the bookings app: catalogue and search (PostgreSQL projection), trip pages
(Trip row + MongoDB document, degrading when the document server is down) and
bookings (scoped to the viewer in the query, and by RLS in the database)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.core.cache import cache
from django.db import connections, router
from django.db.models import F, Q, Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString

from accounts.models import Capability
from accounts.permissions import capability_has
from bookings.content import render_markdown
from bookings.images import trip_image_url
from bookings.models import (
    TRIP_VOCABULARY,
    Booking,
    BookingStatus,
    Departure,
    DepartureStatus,
    Trip,
    TripContent,
    TripListing,
)
from bookings.payloads import trip_content_state
from bookings.policy import money
from bookings.sync import TRIP_AGGREGATE
from sync.models import OutboxEvent
from sync.relay import store_unavailable
from taskforge.mongo import DocumentStoreUnavailable, document_store
from taskforge.routers import replica_reads
from taskforge.search import MARK_START, MARK_STOP, corrected_attempts, mark, search_words

PER_PAGE = 20
COUNT_CAP = 1000  # beyond this the list says "1000+": counting 100k rows per request is waste
MAX_PAGE = COUNT_CAP // PER_PAGE
SORTS = {
    "soonest": "{p}start, {p}code",
    "price": "{p}price_minor, {p}start, {p}code",
    "price_desc": "{p}price_minor DESC, {p}start, {p}code",
    "name": "{p}name, {p}code",
    "relevance": "{p}rank DESC, {p}start, {p}code",
}
_HEADLINE_OPTS = (
    f"StartSel={MARK_START}, StopSel={MARK_STOP}, MaxWords=30, MinWords=12, ShortWord=2, "
    'MaxFragments=2, FragmentDelimiter=" … "'
)
_NAME_HEADLINE_OPTS = f"StartSel={MARK_START}, StopSel={MARK_STOP}, HighlightAll=true"
_LIST_COLUMNS = (
    "l.code, l.name, l.resort, l.price_minor, l.currency, l.price_range, l.start, l.length_days, l.thumbnail"
)


@dataclass(frozen=True)
class CatalogueFilters:
    """Validated catalogue filters (built by bookings.forms.CatalogueFilterForm)."""

    q: str = ""
    resort: str = ""
    price_range: str = ""
    price_min_minor: int | None = None
    price_max_minor: int | None = None
    start_from: dt.date | None = None
    start_to: dt.date | None = None
    length_min: int | None = None
    length_max: int | None = None
    sort: str = ""


@dataclass
class CatalogueItem:
    code: str
    name: str
    resort: str
    price_minor: int
    currency: str
    price_range: str
    start: dt.date
    length_days: int
    thumbnail: str
    name_html: SafeString | str = ""
    snippet_html: SafeString | str = ""

    # Display values computed once in Python: the catalogue is the busiest page, and
    # per-item {% url %}/date/money tags in the template cost more than the query.
    @property
    def url(self) -> str:
        return reverse("bookings:trip_detail", kwargs={"code": self.code})

    @property
    def thumb_url(self) -> str:
        return trip_image_url(self.thumbnail)

    @property
    def price_display(self) -> str:
        return money(self.price_minor, self.currency)

    @property
    def start_display(self) -> str:
        return self.start.strftime("%a %-d %b %Y")


@dataclass
class CataloguePage:
    items: list[CatalogueItem]
    page: int
    has_next: bool
    total: int
    total_capped: bool
    mode: str  # "list", "search" or "typo" (trigram fallback)
    sort: str
    words: list[str] = field(default_factory=list)  # the corrected words of a "typo" page
    relaxed: bool = False  # a "typo" page matching any of the words rather than all

    @property
    def corrected(self) -> str:
        return " ".join(self.words)

    @property
    def has_previous(self) -> bool:
        return self.page > 1


# The departure-date filter: the trip has an open departure still to come in the range
# (departures are PostgreSQL rows next to the projection: always current, no outbox lag;
# the unique (trip, date) index answers each probe).
_DEPARTURE_IN_RANGE = (
    "EXISTS (SELECT 1 FROM bookings_trip t JOIN bookings_departure d ON d.trip_id = t.id "
    "WHERE t.code = l.code AND d.status = 'open' AND d.date > %(today)s{range})"
)


def _where(filters: CatalogueFilters, today: dt.date) -> tuple[str, dict[str, Any]]:
    params: dict[str, Any] = {"today": today}
    if filters.start_from is None and filters.start_to is None:
        clauses = ["l.active", "l.start > %(today)s"]
    else:
        bounds = ""
        if filters.start_from is not None:
            bounds += " AND d.date >= %(start_from)s"
            params["start_from"] = filters.start_from
        if filters.start_to is not None:
            bounds += " AND d.date <= %(start_to)s"
            params["start_to"] = filters.start_to
        clauses = ["l.active", _DEPARTURE_IN_RANGE.format(range=bounds)]
    checks = (
        ("resort", "l.resort = %(resort)s", filters.resort or None),
        ("price_range", "l.price_range = %(price_range)s", filters.price_range or None),
        ("price_min", "l.price_minor >= %(price_min)s", filters.price_min_minor),
        ("price_max", "l.price_minor <= %(price_max)s", filters.price_max_minor),
        ("length_min", "l.length_days >= %(length_min)s", filters.length_min),
        ("length_max", "l.length_days <= %(length_max)s", filters.length_max),
    )
    for name, clause, value in checks:
        if value is not None:
            clauses.append(clause)
            params[name] = value
    return " AND ".join(clauses), params


def _cursor() -> Any:
    # Raw SQL follows the router too: the replica inside replica_reads(), else the primary.
    return connections[router.db_for_read(TripListing)].cursor()


def _fetch(sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    with _cursor() as cursor:
        cursor.execute(sql, params)
        columns = [col.name for col in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def _count(where_sql: str, params: dict[str, Any], extra_from: str = "") -> int:
    sql = f"SELECT count(*) FROM (SELECT 1 FROM bookings_trip_listing l{extra_from} WHERE {where_sql} LIMIT %(cap)s) s"
    with _cursor() as cursor:
        cursor.execute(sql, {**params, "cap": COUNT_CAP + 1})
        return cursor.fetchone()[0]


def _item(row: dict[str, Any]) -> CatalogueItem:
    return CatalogueItem(
        code=row["code"],
        name=row["name"],
        resort=row["resort"],
        price_minor=row["price_minor"],
        currency=row["currency"],
        price_range=row["price_range"],
        start=row["start"],
        length_days=row["length_days"],
        thumbnail=row["thumbnail"],
        name_html=mark(row.get("name_hl") or row["name"]),
        snippet_html=mark(row.get("snippet") or ""),
    )


# A broad query ("ski") can match a sixth of the catalogue; ranking every match reads
# every matching row. Beyond COUNT_CAP matches, relevance is ranked over a bounded pool:
# up to RANK_POOL rows matching in the name, resort or keywords (weights A/B), plus up to
# RANK_POOL other matches. Narrower queries are ranked exactly.
RANK_POOL = 1500
# 'island' <-> 'hop'  ->  'island':AB <-> 'hop':AB  (lexemes restricted to weights A and B)
_STRONG_QUERY = {"strong_re": r"'((?:[^']|'')*)'", "strong_to": r"'\1':AB"}


def _search_sql(where_sql: str, sort: str, *, bounded: bool) -> str:
    columns = f"{_LIST_COLUMNS}, l.description, ts_rank_cd(l.search_vector, query.tsq, 32) AS rank"
    if bounded and sort == "relevance":
        source = f"""(
            SELECT {columns} FROM bookings_trip_listing l, query
            WHERE l.search_vector @@ query.strong AND l.search_vector @@ query.tsq AND {where_sql} LIMIT %(pool)s
        ) UNION (
            SELECT {columns} FROM bookings_trip_listing l, query
            WHERE l.search_vector @@ query.tsq AND {where_sql} LIMIT %(pool)s
        )"""
    else:
        source = (
            f"SELECT {columns} FROM bookings_trip_listing l, query WHERE l.search_vector @@ query.tsq AND {where_sql}"
        )
    return f"""
        WITH query AS (
            SELECT tsq, regexp_replace(tsq::text, %(strong_re)s, %(strong_to)s, 'g')::tsquery AS strong
            FROM (SELECT websearch_to_tsquery('english', %(q)s) AS tsq) w
        ), candidates AS ({source})
        SELECT s.*, ts_headline('english', s.description, query.tsq, %(hl)s) AS snippet,
               ts_headline('english', s.name, query.tsq, %(hl_name)s) AS name_hl
        FROM (SELECT * FROM candidates ORDER BY {SORTS[sort].format(p="")} LIMIT %(limit)s OFFSET %(offset)s) s, query
        ORDER BY {SORTS[sort].format(p="s.")}
    """


def catalogue_page(filters: CatalogueFilters, page: int = 1) -> CataloguePage:
    """One page of the catalogue: a filtered list, a ranked full-text search, or (when the
    search finds nothing) a typo-tolerant trigram search. Served from the projection, on
    the replica when there is one (the catalogue tolerates a little lag)."""
    page = min(max(page, 1), MAX_PAGE)
    offset = (page - 1) * PER_PAGE
    today = timezone.localdate()
    where_sql, params = _where(filters, today)
    params.update(limit=PER_PAGE + 1, offset=offset)
    q = filters.q.strip()
    with replica_reads():
        if not q:
            sort = filters.sort if filters.sort in SORTS and filters.sort != "relevance" else "soonest"
            order = SORTS[sort].format(p="l.")
            rows = _fetch(
                f"SELECT {_LIST_COLUMNS} FROM bookings_trip_listing l WHERE {where_sql} "
                f"ORDER BY {order} LIMIT %(limit)s OFFSET %(offset)s",
                params,
            )
            total = _count(where_sql, params)
            return _page(rows, page, total, "list", sort)
        sort = filters.sort if filters.sort in SORTS else "relevance"
        params.update(q=q, hl=_HEADLINE_OPTS, hl_name=_NAME_HEADLINE_OPTS, pool=RANK_POOL, **_STRONG_QUERY)
        fts_where = f"l.search_vector @@ websearch_to_tsquery('english', %(q)s) AND {where_sql}"
        total = _count(fts_where, params)
        if total:
            rows = _fetch(_search_sql(where_sql, sort, bounded=total > COUNT_CAP), params)
            return _page(rows, page, total, "search", sort)
        # No full-text match: correct each word to its nearest vocabulary word (trigram
        # distance) and search again, all words first, then any of them (taskforge.search).
        words = search_words(q)
        with _cursor() as cursor:
            corrections = TRIP_VOCABULARY.corrections(cursor, words)
        terms, attempts = corrected_attempts(words, corrections)
        total, rows, relaxed = 0, [], False
        for text, any_word in attempts:
            params["q"] = text
            total = _count(fts_where, params)
            if total:
                rows = _fetch(_search_sql(where_sql, sort, bounded=total > COUNT_CAP), params)
                relaxed = any_word
                break
        return _page(rows, page, total, "typo", sort, words=terms, relaxed=relaxed)


def _page(rows: list[dict[str, Any]], page: int, total: int, mode: str, sort: str, **extra: Any) -> CataloguePage:
    has_next = len(rows) > PER_PAGE and page < MAX_PAGE
    items = [_item(row) for row in rows[:PER_PAGE]]
    return CataloguePage(items, page, has_next, min(total, COUNT_CAP), total > COUNT_CAP, mode, sort, **extra)


def resort_choices() -> list[str]:
    """Resorts with trips on sale, for the filter (cached briefly: it changes rarely)."""
    key = "bookings:resorts:v1"
    resorts = cache.get(key)
    if resorts is None:
        with replica_reads():
            resorts = list(
                TripListing.objects.filter(active=True, start__gt=timezone.localdate())
                .order_by("resort")
                .values_list("resort", flat=True)
                .distinct()
            )
        cache.set(key, resorts, 300)
    return resorts


# --- trip pages ------------------------------------------------------------------------


def trip_document(code: str) -> dict[str, Any] | None:
    """The trip's MongoDB document (as a payload-shaped dict with its version), or None when
    it is missing or the server is unreachable. Hot path of the trip page: one condition on
    `code`, served by the plain `trips_code` index (bookings/tests/test_trip_content.py)."""
    if store_unavailable():  # the relay just found MongoDB down: don't wait for a timeout per page
        return None
    try:
        with document_store():
            doc = TripContent.objects.for_code(code)
    except DocumentStoreUnavailable:
        return None
    return trip_content_state(doc) if doc else None


def trip_state(trip: Trip) -> dict[str, Any] | None:
    """The trip's full document at trip.version, for editing: the MongoDB document when it
    is current, else the payload of the outbox event of that version (not applied yet, or
    MongoDB down). None when neither is available."""
    doc = trip_document(trip.code)
    if doc is not None and doc.get("version") == trip.version:
        return doc
    event = (
        OutboxEvent.objects.filter(aggregate_type=TRIP_AGGREGATE, aggregate_id=trip.code, version=trip.version)
        .order_by("-id")
        .first()
    )
    if event is not None:
        return {**event.payload, "version": trip.version}
    return None


def trip_with_state(code: str) -> tuple[Trip | None, dict[str, Any] | None]:
    """(Trip row, its document at the row's version) for an edit; (None, None) for no such trip."""
    trip = Trip.objects.filter(code=code).first()
    return (trip, trip_state(trip)) if trip is not None else (None, None)


def trip_version(code: str) -> int | None:
    """The Trip row's current version (the version a content edit must start from)."""
    return Trip.objects.filter(code=code).values_list("version", flat=True).first()


TRIP_CONTENT_TTL = 3600


def _trip_content_key(code: str, version: int) -> str:
    return f"trips:content:{code}:{version}"


def trip_content(trip: Trip) -> tuple[dict[str, Any] | None, str]:
    """(document, rendered description) for the trip's page: from Redis when the document
    of trip.version was read before, else MongoDB (cached once it is current).

    The key holds the version, so an edit (a new version) is never served the old text
    and needs no invalidation; a document the relay has not brought up to date yet is
    shown but not cached.
    """
    key = _trip_content_key(trip.code, trip.version)
    cached = cache.get(key)
    if cached is not None:
        return cached["doc"], cached["description_html"]
    doc = trip_document(trip.code)
    if doc is None:
        return None, ""
    description_html = render_markdown(doc.get("description_md", ""))
    if doc.get("version") == trip.version:
        cache.set(key, {"doc": doc, "description_html": description_html}, TRIP_CONTENT_TTL)
    return doc, description_html


@dataclass
class TripPage:
    trip: Trip
    departure: Departure | None  # the next open departure with room (else the next open one)
    content: dict[str, Any] | None  # the MongoDB document; None => "details pending"
    listing: TripListing | None  # read only when the document is not available
    description_html: str = ""

    @property
    def name(self) -> str:
        if self.content:
            return self.content.get("name") or self.trip.code
        return self.listing.name if self.listing else self.trip.code

    @property
    def resort(self) -> str:
        if self.content:
            return self.content.get("resort", "")
        return self.listing.resort if self.listing else ""

    @property
    def seats_left(self) -> int:
        return self.departure.seats_left if self.departure else 0

    @property
    def bookable(self) -> bool:
        """On sale with an open departure still to come that has room (`departure` is that one)."""
        return (
            self.trip.active
            and self.departure is not None
            and self.departure.date > timezone.localdate()
            and self.seats_left > 0
        )


def next_departure(trip: Trip) -> Departure | None:
    """The trip's next open departure with room, else its next open one (sold out)."""
    upcoming = Departure.objects.filter(trip=trip, status=DepartureStatus.OPEN, date__gt=timezone.localdate())
    return upcoming.filter(capacity__gt=F("seats_taken")).order_by("date").first() or upcoming.order_by("date").first()


def trip_page(code: str, *, viewer: Any) -> TripPage | None:
    """A trip for its public page; inactive trips only for staff. None => 404."""
    trip = Trip.objects.filter(code=code).first()
    if trip is None:
        return None
    if not trip.active and not capability_has(viewer, Capability.CATALOGUE_EDITOR):
        return None
    departure = next_departure(trip)
    content, description_html = trip_content(trip)
    listing = None if content else TripListing.objects.filter(code=code).first()
    return TripPage(trip=trip, departure=departure, content=content, listing=listing, description_html=description_html)


def trip_names(codes: set[str] | list[str]) -> dict[str, str]:
    """Display names of trips by code, from the projection (one query, no MongoDB)."""
    return dict(TripListing.objects.filter(code__in=list(codes)).values_list("code", "name"))


@dataclass
class StaffTripRow:
    trip: Trip
    name: str
    resort: str
    seats_taken: int


STAFF_TRIP_SHOWS = ("all", "active", "inactive")


def staff_trips(
    *, q: str = "", show: str = "all", page: int = 1, per_page: int = 25
) -> tuple[list[StaffTripRow], bool]:
    """Trips for the staff list (newest first), with names and seats taken. Returns (rows, has_next).

    `q` matches part of a code ("MAL", "al-1") or of a name or resort, any case; with several
    words, each must match one of them ("kyoto temp", "temples kyoto")."""
    qs = Trip.objects.order_by("-created_at", "-id")
    if show == "active":
        qs = qs.filter(active=True)
    elif show == "inactive":
        qs = qs.filter(active=False)
    for word in q.split()[:5]:
        named = TripListing.objects.filter(Q(name__icontains=word) | Q(resort__icontains=word)).values("code")
        qs = qs.filter(Q(code__icontains=word) | Q(code__in=named))
    offset = (max(page, 1) - 1) * per_page
    trips = list(qs[offset : offset + per_page + 1])
    listings = {row.code: row for row in TripListing.objects.filter(code__in=[t.code for t in trips])}
    taken = dict(
        Departure.objects.filter(trip__in=trips)
        .values("trip_id")
        .annotate(n=Sum("seats_taken"))
        .values_list("trip_id", "n")
    )
    rows = [
        StaffTripRow(
            t,
            getattr(listings.get(t.code), "name", "(pending)"),
            getattr(listings.get(t.code), "resort", ""),
            taken.get(t.pk, 0),
        )
        for t in trips[:per_page]
    ]
    return rows, len(trips) > per_page


# --- bookings ------------------------------------------------------------------------


@dataclass
class BookingRow:
    booking: Booking
    trip_name: str

    # Display values computed in Python (lists of bookings render many rows).
    @property
    def url(self) -> str:
        return reverse("bookings:booking_detail", kwargs={"booking_id": self.booking.pk})

    @property
    def trip_url(self) -> str:
        return reverse("bookings:trip_detail", kwargs={"code": self.booking.trip_id})

    @property
    def reference(self) -> str:
        return f"B{self.booking.pk:06d}"

    @property
    def total_display(self) -> str:
        """A live booking's amount after the refunds for travellers taken off; a cancelled
        booking's total (its refund is on its page)."""
        booking = self.booking
        amount = booking.total_minor if booking.is_cancelled else booking.net_minor
        return money(amount, booking.currency)


def _with_names(bookings: list[Booking]) -> list[BookingRow]:
    names = trip_names({b.trip_id for b in bookings})
    return [BookingRow(b, names.get(b.trip_id, b.trip_id)) for b in bookings]


def bookings_for_traveller(user: Any, *, page: int = 1, per_page: int = PER_PAGE) -> tuple[list[BookingRow], bool]:
    """The user's own bookings, latest travel date first. Returns (rows, has_next)."""
    offset = (max(page, 1) - 1) * per_page
    rows = list(Booking.objects.filter(user=user).order_by("-travel_date", "-id")[offset : offset + per_page + 1])
    return _with_names(rows[:per_page]), len(rows) > per_page


@dataclass(frozen=True)
class StaffBookingFilters:
    status: str = ""
    trip: str = ""
    travel_from: dt.date | None = None
    travel_to: dt.date | None = None
    traveller: str = ""


def bookings_for_staff(
    viewer: Any, filters: StaffBookingFilters, *, page: int = 1, per_page: int = 25
) -> tuple[list[BookingRow], bool]:
    """All bookings (booking desk only; RLS shows them all to the desk), newest first, filtered."""
    if not capability_has(viewer, Capability.BOOKING_DESK):
        return [], False
    qs = Booking.objects.select_related("user").order_by("-id")
    if filters.status in BookingStatus.values:
        qs = qs.filter(status=filters.status)
    if filters.trip:
        qs = qs.filter(trip_id=filters.trip.strip().upper())
    if filters.travel_from:
        qs = qs.filter(travel_date__gte=filters.travel_from)
    if filters.travel_to:
        qs = qs.filter(travel_date__lte=filters.travel_to)
    if filters.traveller:
        qs = qs.filter(user__email__icontains=filters.traveller.strip())
    offset = (max(page, 1) - 1) * per_page
    rows = list(qs[offset : offset + per_page + 1])
    return _with_names(rows[:per_page]), len(rows) > per_page


def booking_for_viewer(viewer: Any, booking_id: int) -> BookingRow | None:
    """A booking its owner or the booking desk may see; None (=> 404) for anyone else."""
    qs = Booking.objects.select_related("user")
    if not capability_has(viewer, Capability.BOOKING_DESK):
        qs = qs.filter(user_id=getattr(viewer, "pk", None))
    booking = qs.filter(pk=booking_id).first()
    if booking is None:
        return None
    return _with_names([booking])[0]
