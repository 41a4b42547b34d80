"""A small, fully known data set for the reports tests (figures worked out by hand below).

Written straight through the ORM under an admin context (no services, no outbox): the
reports read only the relational rows, and fixed past dates make every figure exact.

Bookings (booking date, UTC):
  b1 T1 SKI-1 2025-03-03 x2 £2000 confirmed                 -> revenue £2000
  b2 T2 SKI-1 2025-03-03 x1 £1000 pending                   -> revenue 0
  b3 T1 SEA-1 2025-03-04 x3 €1500 confirmed                 -> revenue €1500
  b4 T2 SKI-2 2025-04-10 x2 £1600 confirmed, then cancelled, refund £800 -> revenue £800
  b5 T2 SKI-2 2025-04-11 x1 £800 cancelled while pending, refund £800    -> revenue 0
Departures: SKI-1 2025-06-01 10 seats, 3 taken (2 confirmed, 1 pending); SEA-1 2025-06-15
20 seats, 3 taken (3 confirmed); SKI-2 2025-07-01 8 seats, 0 taken.
Tasks: Alpha week of 2025-03-03: created 3, done 2 (48 h and 36 h: avg = median = 42 h);
week of 2025-03-10: created 1, done 1 (24 h). Bravo week of 2025-03-03: created 1, done 1 (10 h).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

UTC = dt.UTC


def _at(day: str, hour: int = 9) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


@dataclass
class KnownData:
    """The objects of the known data set the tests refer to."""

    admin: Any
    staff_alpha: Any  # member of Alpha only
    staff_none: Any  # staff in no team
    traveller1: Any
    traveller2: Any
    alpha: Any
    bravo: Any
    password: str | None


def owner_connect() -> Any:
    """A psycopg connection to the site's database as the owner role (autocommit)."""
    import psycopg
    from django.conf import settings
    from django.db import connections

    owner = settings.DATABASE_OWNER
    return psycopg.connect(
        host=owner.get("HOST") or None,
        port=owner.get("PORT") or None,
        user=owner["USER"],
        password=owner.get("PASSWORD") or None,
        dbname=connections["default"].settings_dict["NAME"],
        autocommit=True,
    )


def star_drop() -> None:
    """Remove the star schema (tests start from nothing and leave nothing behind)."""
    with owner_connect() as conn:
        conn.execute("DROP SCHEMA IF EXISTS star CASCADE")


def known_data_create(password: str | None = None) -> KnownData:
    """Create the data set. Without a password the users get an unusable one (sign them
    in with force_login): hashing is slow on purpose and the tests don't need it."""
    from accounts.models import Membership, Team, User
    from bookings.models import Booking, Departure, Trip, TripListing
    from taskforge.dbcontext import DbContext, db_context
    from taskforge.testing.personas import person_create
    from tasks.models import Task

    admin = User.objects.create_superuser("reports-admin@example.com", password)
    with db_context(DbContext(user_id=str(admin.pk), role="system", request_id="reports-testdata")):
        staff_alpha = person_create("reports_reader", "reports-staff@example.com", password)
        staff_none = person_create("reports_reader", "reports-loner@example.com", password)
        t1 = User.objects.create_user("reports-t1@example.com", password)
        t2 = User.objects.create_user("reports-t2@example.com", password)
        alpha = Team.objects.create(name="Alpha", slug="alpha-reports", created_by=admin)
        bravo = Team.objects.create(name="Bravo", slug="bravo-reports", created_by=admin)
        Membership.objects.create(team=alpha, user=staff_alpha, role="member")

        trips = {}
        for code, name, resort, price, currency, seats, start in (
            ("SKI-1", "Powder week", "Alps", 100_000, "GBP", 10, dt.date(2025, 6, 1)),
            ("SEA-1", "Sun and sea", "Riviera", 50_000, "EUR", 20, dt.date(2025, 6, 15)),
            ("SKI-2", "Glacier days", "Alps", 80_000, "GBP", 8, dt.date(2025, 7, 1)),
        ):
            trips[code] = Trip.objects.create(
                code=code, price_minor=price, currency=currency, seats=seats, start=start, length_days=7
            )
            TripListing.objects.create(
                code=code,
                version=1,
                name=name,
                resort=resort,
                price_minor=price,
                currency=currency,
                price_range="mid-range",
                start=start,
                length_days=7,
                active=True,
            )
        taken = {"SKI-1": 3, "SEA-1": 3, "SKI-2": 0}
        departures = {
            code: Departure.objects.create(trip=trip, date=trip.start, capacity=trip.seats, seats_taken=taken[code])
            for code, trip in trips.items()
        }

        def book(
            user: Any,
            code: str,
            day: str,
            hour: int,
            travellers: int,
            status: str,
            *,
            confirmed: bool,
            refund: int | None = None,
        ) -> None:
            trip = trips[code]
            booked = _at(day, hour)
            Booking.objects.create(
                user=user,
                trip=trip,
                departure=departures[code],
                booking_date=booked,
                travel_date=trip.start,
                travellers=travellers,
                unit_price_minor=trip.price_minor,
                total_minor=trip.price_minor * travellers,
                currency=trip.currency,
                status=status,
                refund_minor=refund,
                confirmed_at=booked + dt.timedelta(hours=1) if confirmed else None,
                cancelled_at=booked + dt.timedelta(days=2) if status == "cancelled" else None,
            )

        book(t1, "SKI-1", "2025-03-03", 10, 2, "confirmed", confirmed=True)
        book(t2, "SKI-1", "2025-03-03", 15, 1, "pending", confirmed=False)
        book(t1, "SEA-1", "2025-03-04", 11, 3, "confirmed", confirmed=True)
        book(t2, "SKI-2", "2025-04-10", 12, 2, "cancelled", confirmed=True, refund=80_000)
        book(t2, "SKI-2", "2025-04-11", 12, 1, "cancelled", confirmed=False, refund=80_000)

        def task(team: Any, created: dt.datetime, done: dt.datetime | None) -> None:
            row = Task.objects.create(team=team, title=f"task {created:%d %H}", status="done" if done else "todo")
            # created_at is auto_now_add: set the known times afterwards.
            Task.objects.filter(pk=row.pk).update(created_at=created, done_at=done)

        task(alpha, _at("2025-03-03"), _at("2025-03-05"))  # 48 h
        task(alpha, _at("2025-03-04"), _at("2025-03-05", 21))  # 36 h
        task(alpha, _at("2025-03-05"), None)
        task(alpha, _at("2025-03-10"), _at("2025-03-11"))  # 24 h
        task(bravo, _at("2025-03-03"), _at("2025-03-03", 19))  # 10 h
    return KnownData(admin, staff_alpha, staff_none, t1, t2, alpha, bravo, password)
