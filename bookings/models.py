"""Trips, departures, the catalogue/search projection and bookings (PostgreSQL side).

Where trip data lives (DESIGN.md, "Data placement"):

* `Trip` (PostgreSQL, this module) holds what a booking needs under ACID: the code, the
  price per person in integer minor units and its currency, the seats per departure,
  the start date and length (which define the departure), the active flag and the
  version used to order the outbox events. It is the source of truth for these.
* `TripContent` (MongoDB, collection "trips", a content model on the `mongodb` alias,
  below) holds the catalogue content: name, resort, markdown description, keywords,
  image and thumbnail paths, itinerary and the derived price range. Services never
  write it directly: they write the Trip row plus an outbox event whose payload is the
  full document at that version (bookings/payloads.py), and `bookings/sync.py` applies
  it (idempotently, newest version wins). The document also carries read-only copies of
  the Trip facts, so it is a complete catalogue entry.
* `TripListing` (PostgreSQL) is the read model for the catalogue list and the search:
  a projection of the document, kept in step by the same outbox handler, with a
  weighted tsvector (a generated column, see migration 0002). `SearchWord` is its
  vocabulary, with a trigram index, for typo-tolerant search.
* `Departure` is one departure of a trip (trip + date): its seats, seats taken, an
  optional price override and a status (open, closed, cancelled). A trip has many;
  the one created with the trip is on its start date. Booking services lock it
  (SELECT ... FOR UPDATE) so a departure is never oversold, and its CHECK constraint
  refuses overselling even if a code path forgot the lock. A booking's travel date is
  its departure's date.
* `Booking` is protected by row-level security (a traveller sees only their own rows).
  That is why seats are counted on `Departure` and not by counting bookings: under RLS
  a traveller's connection cannot see other travellers' bookings, so a COUNT would
  undercount and oversell.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django_mongodb_backend.fields import ArrayField, EmbeddedModelArrayField
from django_mongodb_backend.models import EmbeddedModel
from django_rls.models import RLSModel
from django_rls.policies import CustomPolicy

from taskforge.rls import CTX_IS_SYSTEM, CTX_USER_ID, ctx_has_capability
from taskforge.search import Vocabulary

TRIP_CODE_PATTERN = r"^[A-Z0-9-]{1,20}$"
TRIP_CODE_MESSAGE = "Use up to 20 upper-case letters, digits and hyphens."


class Currency(models.TextChoices):
    GBP = "GBP", "GBP (£)"
    EUR = "EUR", "EUR (€)"
    USD = "USD", "USD ($)"


class PriceRange(models.TextChoices):
    BUDGET = "budget", "Budget"
    MID_RANGE = "mid-range", "Mid-range"
    LUXURY = "luxury", "Luxury"


class Trip(models.Model):
    """A trip on sale: the booking-critical facts (price, seats, dates, active) and the
    version of its catalogue document. The content itself lives in MongoDB."""

    code = models.CharField(max_length=20, unique=True)
    price_minor = models.BigIntegerField(help_text="Price per person in minor units (pence, cents).")
    currency = models.CharField(max_length=3, choices=Currency.choices, default=Currency.GBP)
    seats = models.PositiveIntegerField(help_text="Seats per departure.")
    start = models.DateField()
    length_days = models.PositiveSmallIntegerField()
    active = models.BooleanField(default=True)
    version = models.BigIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "bookings_trip"
        ordering = ["start", "code"]
        constraints = [
            models.CheckConstraint(condition=Q(code__regex=TRIP_CODE_PATTERN), name="bookings_trip_code_format"),
            models.CheckConstraint(condition=Q(price_minor__gt=0), name="bookings_trip_price_positive"),
            models.CheckConstraint(condition=Q(seats__gt=0), name="bookings_trip_seats_positive"),
            models.CheckConstraint(condition=Q(length_days__gte=1), name="bookings_trip_length_positive"),
            models.CheckConstraint(condition=Q(currency__in=Currency.values), name="bookings_trip_currency_valid"),
            models.CheckConstraint(condition=Q(version__gte=1), name="bookings_trip_version_positive"),
        ]
        indexes = [models.Index(fields=["active", "start"], name="bookings_trip_active_start_idx")]

    def __str__(self) -> str:
        return self.code


class DepartureStatus(models.TextChoices):
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"
    CANCELLED = "cancelled", "Cancelled"


class Departure(models.Model):
    """One departure of a trip (trip + date): its seats (`capacity`), the seats taken, an
    optional price that overrides the trip's, and a status (open for sale, closed, or
    cancelled by the company).

    Booking services take `SELECT ... FOR UPDATE` on this row before counting seats,
    which serialises bookings of the same departure; the CHECK constraint is the last
    line of defence against overselling. No row-level security: like the trip, a
    departure is catalogue data every visitor may read; writes go through the services
    (catalogue editors, the booking desk, and bookings that take seats). Audited by the
    trigger like the other bookings tables.
    """

    trip = models.ForeignKey(Trip, on_delete=models.PROTECT, related_name="departures")
    date = models.DateField()
    capacity = models.PositiveIntegerField(help_text="Seats on this departure.")
    seats_taken = models.PositiveIntegerField(default=0)
    seats_held = models.PositiveIntegerField(
        default=0, db_default=0, help_text="Seats held by live waiting-list offers (not for sale)."
    )
    price_minor = models.BigIntegerField(
        null=True, blank=True, help_text="Price per person for this departure; empty = the trip's price."
    )
    status = models.CharField(
        max_length=16, choices=DepartureStatus.choices, default=DepartureStatus.OPEN, db_default="open"
    )
    cancel_reason = models.CharField(max_length=500, blank=True, default="", db_default="")
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "bookings_departure"
        ordering = ["date", "id"]
        constraints = [
            models.UniqueConstraint(fields=["trip", "date"], name="bookings_departure_trip_date_unique"),
            models.CheckConstraint(condition=Q(capacity__gt=0), name="bookings_departure_capacity_positive"),
            models.CheckConstraint(
                condition=Q(seats_taken__gte=0) & Q(seats_taken__lte=models.F("capacity")),
                name="bookings_departure_not_oversold",
            ),
            # Held seats are never sold nor held twice: bookings and live offers fit the seats.
            models.CheckConstraint(
                condition=Q(seats_held__gte=0) & Q(seats_held__lte=models.F("capacity") - models.F("seats_taken")),
                name="bookings_departure_holds_fit",
            ),
            models.CheckConstraint(
                condition=Q(price_minor__isnull=True) | Q(price_minor__gt=0), name="bookings_departure_price_positive"
            ),
            models.CheckConstraint(
                condition=Q(status__in=DepartureStatus.values), name="bookings_departure_status_valid"
            ),
        ]
        indexes = [
            # The catalogue's departure-date filter: open departures in a date range.
            models.Index(fields=["status", "date"], name="bookings_departure_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.trip_id} on {self.date}"

    @property
    def seats_left(self) -> int:
        """Seats for sale: not booked and not held for a waiting-list offer."""
        return max(self.capacity - self.seats_taken - self.seats_held, 0)

    @property
    def is_open(self) -> bool:
        return self.status == DepartureStatus.OPEN

    @property
    def is_cancelled(self) -> bool:
        return self.status == DepartureStatus.CANCELLED

    def unit_price_minor(self, trip: Trip) -> int:
        """The price per person of this departure: its own, else the trip's."""
        return self.price_minor if self.price_minor is not None else trip.price_minor


class TripListing(models.Model):
    """Catalogue and search projection of a trip document (read model).

    Written only by the outbox handler (bookings/sync.py), idempotently by version.
    Migration 0002 adds a generated column that Django does not manage: `search_vector`
    (weighted tsvector: name A, resort A, keywords B, description C; GIN index).
    """

    AUDIT = False  # a projection: rebuilt from the outbox, audited at the source

    code = models.CharField(max_length=20, primary_key=True)
    version = models.BigIntegerField()
    name = models.CharField(max_length=200)
    resort = models.CharField(max_length=120)
    keywords = models.TextField(blank=True, default="")
    description = models.TextField(blank=True, default="", help_text="Plain text of the markdown description.")
    price_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    price_range = models.CharField(max_length=16, choices=PriceRange.choices)
    start = models.DateField()
    length_days = models.PositiveSmallIntegerField()
    active = models.BooleanField()
    thumbnail = models.CharField(max_length=200, blank=True, default="")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "bookings_trip_listing"
        indexes = [
            models.Index(fields=["active", "start"], name="bookings_listing_start_idx"),
            models.Index(fields=["active", "price_minor"], name="bookings_listing_price_idx"),
            models.Index(fields=["active", "name"], name="bookings_listing_name_idx"),
            models.Index(fields=["resort", "start"], name="bookings_listing_resort_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class SearchWord(models.Model):
    """The vocabulary of the trip projection (words of names, resorts and keywords), for
    typo correction: a misspelt query word is replaced by its nearest word here
    (trigram distance, GiST index added by migration 0003) before the full-text search.

    Filled by the outbox handler; words are never removed (a stale word only finds nothing).
    """

    AUDIT = False  # derived data

    word = models.CharField(max_length=60, primary_key=True)

    class Meta:
        db_table = "bookings_search_word"

    def __str__(self) -> str:
        return self.word


# Typo correction of catalogue searches (taskforge.search): one vocabulary for the catalogue.
TRIP_VOCABULARY = Vocabulary(SearchWord._meta.db_table)


# --- MongoDB: trip content (routed to the `mongodb` alias by taskforge/routers.py) --------


class ItineraryDay(EmbeddedModel):
    """One day of a trip's itinerary, embedded in TripContent.itinerary (no collection of its own)."""

    day = models.PositiveSmallIntegerField(help_text="Day number, from 1.")
    title = models.CharField(max_length=120, help_text="What the day is, e.g. 'Arrive in Malé'.")
    details = models.CharField(max_length=500, blank=True, default="", help_text="More about the day (optional).")

    def __str__(self) -> str:
        return f"Day {self.day}: {self.title}"


class TripContentQuerySet(models.QuerySet):
    def for_code(self, code: str) -> TripContent | None:
        """The document of a trip code, or None: one condition on `code` (the plain
        `trips_code` index) and no sort (`first()` would sort on _id)."""
        return next(iter(self.filter(code=code)[:1]), None)


class TripContent(models.Model):
    """The catalogue document of one trip (MongoDB collection "trips").

    Written only by the outbox handler (bookings/sync.py), newest version wins, from the
    payload of a trip event; the admin edits it through the trip service, never directly.
    The document key `_id` is the trip code (it never changes; the relay's version-guarded
    upserts and the reconciler match on it); `code` is looked up by pages and has a plain
    index next to its unique constraint (the backend's unique index is partial and not
    used for equality lookups).

    Content (source of truth here): name, resort, description_md, keywords, image,
    thumbnail, itinerary, price_range. Copies of the Trip row (source of truth in
    PostgreSQL, read-only here): code, price_minor, currency, seats, start, length_days,
    active, created_at, updated_at. Money: `price_minor` is integer minor units (pence,
    cents) of `currency`, as on the Trip row. `version` is the Trip row's version at which
    this document was written.
    """

    AUDIT = False  # not a PostgreSQL table: changes are audited by the trip service (audit_content_record)

    id = models.CharField(
        primary_key=True, max_length=20, db_column="_id", help_text="The document key: the trip code."
    )
    code = models.CharField(max_length=20, unique=True, help_text="The trip code (copy of Trip.code).")
    name = models.CharField(max_length=200, help_text="Display name of the trip.")
    resort = models.CharField(max_length=120, help_text="Resort or destination, as the catalogue filter shows it.")
    length_days = models.PositiveSmallIntegerField(help_text="Length in days (copy of Trip.length_days).")
    start = models.DateField(help_text="Date of the departure (copy of Trip.start), stored as UTC midnight.")
    price_minor = models.BigIntegerField(
        help_text="Price per person in integer minor units of `currency` (copy of Trip.price_minor)."
    )
    currency = models.CharField(max_length=3, help_text="ISO currency code of the price (copy of Trip.currency).")
    price_range = models.CharField(
        max_length=16, choices=PriceRange.choices, help_text="Budget band derived from the price."
    )
    image = models.CharField(max_length=200, blank=True, default="", help_text="Image path under MEDIA_ROOT.")
    thumbnail = models.CharField(max_length=200, blank=True, default="", help_text="Thumbnail path under MEDIA_ROOT.")
    description_md = models.TextField(
        blank=True, default="", help_text="Description in Markdown (sanitised on display)."
    )
    keywords = ArrayField(
        models.CharField(max_length=40), blank=True, default=list, help_text="Search keywords, lower case."
    )
    itinerary = EmbeddedModelArrayField(ItineraryDay, blank=True, default=list, help_text="The days, in order.")
    active = models.BooleanField(default=True, help_text="On sale (copy of Trip.active).")
    seats = models.PositiveIntegerField(help_text="Seats per departure (copy of Trip.seats).")
    created_at = models.DateTimeField(null=True, blank=True, help_text="When the trip was created (copy).")
    updated_at = models.DateTimeField(null=True, blank=True, help_text="When the trip last changed (copy).")
    version = models.BigIntegerField(help_text="The Trip row's version this document was written at.")

    objects = TripContentQuerySet.as_manager()

    class Meta:
        db_table = "trips"
        verbose_name = "trip content"
        verbose_name_plural = "trip contents"
        indexes = [models.Index(fields=["code"], name="trips_code")]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class BookingStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    CONFIRMED = "confirmed", "Confirmed"
    CANCELLED = "cancelled", "Cancelled"


# Row-level security: the traveller of the row, a person with the booking-desk capability
# (looked up in the grant table; site admins hold every capability), or the system. A team
# member without the capability sees no one else's bookings. No context => no rows.
# The context reads are wrapped in scalar subqueries so PostgreSQL evaluates them once
# per statement (an InitPlan), not once per row. FOR ALL: the same expression is the
# USING clause (which rows SELECT/UPDATE/DELETE can touch) and the WITH CHECK clause
# (which rows INSERT/UPDATE may write), so traveller A cannot insert a row for B.
BOOKING_POLICY = (
    f"(SELECT {ctx_has_capability('booking_desk')}) OR (SELECT {CTX_IS_SYSTEM}) OR user_id = (SELECT {CTX_USER_ID})"
)


class Booking(RLSModel):
    """A traveller's booking of one departure (Travlr `bookings` table, money in minor units).

    The total is always computed by the service from the unit price and the travellers
    booked (`total = unit price x (travellers + removed_travellers)`, also a CHECK
    constraint); the form never supplies it. Money is recorded the way a cancellation
    records it: the total stays what was booked, and `refund_minor` is what the
    cancellation policy gave back. Taking travellers off (a reduction) is a partial
    cancellation: their seats go back on sale, they move to `removed_travellers`, and
    the policy's refund for their price is added to `refund_minor`; the rest of their
    price is kept. `net_minor` is what the booking comes to.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="bookings")
    trip = models.ForeignKey(
        Trip, on_delete=models.PROTECT, to_field="code", db_column="trip_code", related_name="bookings"
    )
    # The departure booked; `travel_date` is its date (kept for lists and the RLS-scoped indexes).
    departure = models.ForeignKey(Departure, on_delete=models.PROTECT, related_name="bookings")
    booking_date = models.DateTimeField(default=timezone.now)
    travel_date = models.DateField()
    travellers = models.PositiveSmallIntegerField()
    removed_travellers = models.PositiveSmallIntegerField(
        default=0, db_default=0, help_text="Travellers taken off the booking (their seats were released)."
    )
    unit_price_minor = models.BigIntegerField(help_text="Price per person when booked, minor units.")
    total_minor = models.BigIntegerField(help_text="Total amount in minor units.")
    currency = models.CharField(max_length=3, choices=Currency.choices)
    status = models.CharField(max_length=16, choices=BookingStatus.choices, default=BookingStatus.PENDING)
    payment_reference = models.CharField(max_length=100, blank=True, default="")
    idempotency_key = models.UUIDField(default=uuid.uuid4)
    refund_minor = models.BigIntegerField(
        null=True, blank=True, help_text="Refunded under the policy (cancellation and reductions), minor units."
    )
    cancel_reason = models.CharField(max_length=500, blank=True, default="")
    confirmed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "bookings_booking"
        ordering = ["-travel_date", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(travellers__gt=0), name="bookings_booking_travellers_positive"),
            models.CheckConstraint(condition=Q(total_minor__gt=0), name="bookings_booking_total_positive"),
            models.CheckConstraint(condition=Q(unit_price_minor__gt=0), name="bookings_booking_unit_price_positive"),
            models.CheckConstraint(
                condition=Q(
                    total_minor=models.F("unit_price_minor") * (models.F("travellers") + models.F("removed_travellers"))
                ),
                name="bookings_booking_total_matches",
            ),
            models.CheckConstraint(condition=Q(status__in=BookingStatus.values), name="bookings_booking_status_valid"),
            models.CheckConstraint(
                condition=Q(refund_minor__isnull=True)
                | (Q(refund_minor__gte=0) & Q(refund_minor__lte=models.F("total_minor"))),
                name="bookings_booking_refund_range",
            ),
            models.UniqueConstraint(fields=["user", "idempotency_key"], name="bookings_booking_idempotency_unique"),
        ]
        indexes = [
            models.Index(fields=["user", "travel_date"], name="bookings_user_travel_idx"),
            models.Index(fields=["status", "booking_date"], name="bookings_status_booked_idx"),
            # Live bookings per departure (seat reconciliation, "has this departure bookings?").
            models.Index(
                fields=["trip", "travel_date"],
                name="bookings_active_departure_idx",
                condition=~Q(status="cancelled"),
            ),
            models.Index(fields=["departure"], name="bookings_live_by_departure_idx", condition=~Q(status="cancelled")),
        ]
        rls_policies = [CustomPolicy("booking_owner_or_desk", BOOKING_POLICY, operation="ALL")]

    def __str__(self) -> str:
        return f"Booking #{self.pk} {self.trip_id} x{self.travellers}"

    @property
    def is_cancelled(self) -> bool:
        return self.status == BookingStatus.CANCELLED

    @property
    def net_minor(self) -> int:
        """What the booking comes to: its total less what was refunded."""
        return self.total_minor - (self.refund_minor or 0)


class WaitlistStatus(models.TextChoices):
    WAITING = "waiting", "Waiting"
    OFFERED = "offered", "Offered"
    ACCEPTED = "accepted", "Accepted"
    DECLINED = "declined", "Declined"
    EXPIRED = "expired", "Expired"
    WITHDRAWN = "withdrawn", "Withdrawn"


WAITLIST_LIVE = (WaitlistStatus.WAITING, WaitlistStatus.OFFERED)


class WaitlistEntry(RLSModel):
    """A traveller waiting for seats on a full departure (pretix-like). In line by
    (created_at, id). When seats free up, the first entries that fit get an offer: their
    seats are held on the departure (`Departure.seats_held`) at the price of that moment
    until `offer_expires_at`; accepting books them at that price, declining or letting it
    expire passes the seats on. Row-level security as for bookings (the traveller, the
    booking desk, the system)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="waitlist_entries")
    departure = models.ForeignKey(Departure, on_delete=models.PROTECT, related_name="waitlist_entries")
    travellers = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=16, choices=WaitlistStatus.choices, default=WaitlistStatus.WAITING)
    created_at = models.DateTimeField(default=timezone.now)
    offered_at = models.DateTimeField(null=True, blank=True)
    offer_expires_at = models.DateTimeField(null=True, blank=True)
    offer_unit_price_minor = models.BigIntegerField(null=True, blank=True, help_text="Price per person held.")
    booking = models.OneToOneField(
        Booking, on_delete=models.PROTECT, null=True, blank=True, related_name="waitlist_entry"
    )
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "bookings_waitlist_entry"
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(travellers__gt=0), name="bookings_waitlist_travellers_positive"),
            models.CheckConstraint(
                condition=Q(status__in=WaitlistStatus.values), name="bookings_waitlist_status_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status="offered") | (Q(offer_expires_at__isnull=False) & Q(offer_unit_price_minor__gt=0)),
                name="bookings_waitlist_offer_complete",
            ),
            # One place in line per traveller and departure.
            models.UniqueConstraint(
                fields=["user", "departure"],
                condition=Q(status__in=["waiting", "offered"]),
                name="bookings_waitlist_one_live_entry",
            ),
        ]
        indexes = [
            models.Index(
                fields=["departure", "created_at"],
                name="bookings_waitlist_line_idx",
                condition=Q(status__in=["waiting", "offered"]),
            ),
            models.Index(
                fields=["offer_expires_at"], name="bookings_waitlist_expiry_idx", condition=Q(status="offered")
            ),
        ]
        rls_policies = [CustomPolicy("waitlist_owner_or_desk", BOOKING_POLICY, operation="ALL")]

    def __str__(self) -> str:
        return f"Waitlist #{self.pk} {self.departure_id} x{self.travellers} ({self.status})"

    @property
    def is_live_offer(self) -> bool:
        return (
            self.status == WaitlistStatus.OFFERED
            and self.offer_expires_at is not None
            and self.offer_expires_at > timezone.now()
        )
