"""The query budget (issue 10): no page issues more than 15 SQL queries, whatever the
size of its data.

Each main GET page is requested as the user who would see it, first with a small data
set (SMALL objects of the kind the page lists) and then with a larger one (LARGE): the
number of queries must stay within the budget and must not grow with the data. The
data come from the apps' services and test factories, so the pages see what they see in
production (outbox applied, documents written). Each count is taken on the second
request after the data changed (the first one fills the caches a returning user has
warm); the first one is held to the budget as well. Run with -s to see the figures.

The report pages read the star schema the ETL loads, so their test commits real data
(committed_db), loads it, adds 50 bookings and tasks, loads again and compares.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from sync.relay import relay_sweep
from taskforge.dbcontext import DbContext, db_context

BUDGET = 15
SMALL, LARGE = 5, 50


@pytest.fixture(autouse=True)
def _fast_hashing(settings):
    # Users here never sign in with a password (force_login); keep hashing cheap anyway.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def acting(user: Any) -> Any:
    return db_context(DbContext(user_id=str(user.pk), role="user", user_agent="pytest"))


@dataclass
class World:
    """The people every page needs, and counters of what has been made so far."""

    make_user: Callable[..., Any]
    traveller: Any
    staff: Any
    member: Any
    admin: Any
    team: Any
    made: dict[str, list[Any]] = field(default_factory=dict)

    def have(self, kind: str, n: int, make: Callable[[int], Any]) -> list[Any]:
        """Grow the list of `kind` objects to n (each made by make(i))."""
        items = self.made.setdefault(kind, [])
        while len(items) < n:
            items.append(make(len(items)))
        return items


@pytest.fixture
def world(make_user) -> World:
    from accounts.models import Membership, Team

    staff = make_user("staff", display_name="Sally Staff", password=None)
    member = make_user("staff", display_name="Mo Member", password=None)
    admin = make_user("admin", display_name="Ada Admin", password=None)
    traveller = make_user("traveller", display_name="Tom Traveller", password=None, email_verified=True)
    team = Team.objects.create(name="Budget crew", slug=f"budget-{staff.pk}", created_by=staff)
    Membership.objects.create(team=team, user=staff, role="admin")
    Membership.objects.create(team=team, user=member, role="member")
    return World(make_user, traveller, staff, member, admin, team)


# --- data makers ----------------------------------------------------------------------------------------


def _trip(w: World, i: int) -> Any:
    from bookings.tests.conftest import create_trip

    return create_trip(w.staff, seats=500, keywords=["beach", "budget"], name=f"Budget beach trip {i}")


def _trips(w: World, n: int) -> list[Any]:
    trips = w.have("trips", n, lambda i: _trip(w, i))
    relay_sweep()  # the catalogue reads the projection the outbox maintains
    return trips


def _booking(w: World, user: Any, trip: Any) -> Any:
    from bookings import services

    with acting(user):
        booking, _ = services.booking_create(
            actor=user,
            trip_code=trip.code,
            travel_date=trip.start,
            travellers=1,
            idempotency_key=uuid.uuid4(),
            expected_total_minor=trip.price_minor,
        )
    return booking


def _my_bookings(w: World, n: int) -> list[Any]:
    trips = _trips(w, 3)
    return w.have("my_bookings", n, lambda i: _booking(w, w.traveller, trips[i % len(trips)]))


def _all_bookings(w: World, n: int) -> list[Any]:
    trips = _trips(w, 3)
    return w.have("bookings", n, lambda i: _booking(w, w.make_user("traveller", password=None), trips[i % len(trips)]))


def _task(w: World, i: int, **fields: Any) -> Any:
    from tasks import services

    statuses = ["backlog", "todo", "in_progress", "in_review", "done"]
    fields.setdefault("status", statuses[i % 5])
    fields.setdefault("assignee_id", [w.member.pk, w.staff.pk][i % 2])
    with acting(w.staff):
        return services.task_create(
            actor=w.staff,
            team_id=w.team.id,
            title=f"Task {i}",
            tags=["budget"],
            due_at=timezone.now() + dt.timedelta(days=i % 9 - 3),
            **fields,
        )


def _tasks(w: World, n: int) -> list[Any]:
    tasks = w.have("tasks", n, lambda i: _task(w, i))
    relay_sweep()
    return tasks


def _comments(w: World, n: int) -> list[Any]:
    from tasks import services

    task = _tasks(w, 1)[0]

    def make(i: int) -> Any:
        author = [w.staff, w.member][i % 2]
        with acting(author):
            return services.comment_create(actor=author, task_id=task.id, body=f"Comment {i} on the budget")

    comments = w.have("comments", n, make)
    relay_sweep()
    return comments


def _notifications(w: World, n: int) -> list[Any]:
    from tasks import services

    task = _tasks(w, 1)[0]
    handle = w.member.email.split("@", 1)[0]

    def make(i: int) -> Any:
        with acting(w.staff):
            return services.comment_create(actor=w.staff, task_id=task.id, body=f"@{handle} look at this ({i})")

    made = w.have("mentions", n, make)
    relay_sweep()  # the notification documents are written by the outbox relay
    return made


def _teams(w: World, n: int) -> list[Any]:
    from accounts.models import Membership, Team

    def make(i: int) -> Any:
        team = Team.objects.create(name=f"Extra team {i}", slug=f"extra-{w.member.pk}-{i}", created_by=w.staff)
        Membership.objects.create(team=team, user=w.member, role=["member", "admin", "guest"][i % 3])
        return team

    return w.have("teams", n, make)


def _members(w: World, n: int) -> list[Any]:
    from accounts.models import Membership

    def make(i: int) -> Any:
        user = w.make_user("staff", password=None, display_name=f"Member {i}")
        Membership.objects.create(team=w.team, user=user, role=["member", "guest"][i % 2])
        return user

    return w.have("members", n, make)


def _sessions(w: World, n: int) -> list[Any]:
    def make(i: int) -> Any:
        client = Client(HTTP_USER_AGENT=f"Mozilla/5.0 (X11; Linux) Firefox/{100 + i}.0")
        client.force_login(w.member)
        client.get("/accounts/profile/")  # the middleware indexes the session (accounts.sessions)
        return client

    return w.have("sessions", n, make)


def _audit_rows(w: World, n: int) -> list[Any]:
    # Every row change is audited by the triggers: each new user is at least one audit row.
    return w.have("audited", n, lambda i: w.make_user("traveller", password=None, display_name=f"Audited {i}"))


# --- the pages ------------------------------------------------------------------------------------------


@dataclass
class Page:
    name: str
    viewer: str | None  # World attribute of the user, or None for anonymous
    url: Callable[[World], str]
    grow: Callable[[World, int], Any]


PAGES = [
    Page("catalogue", None, lambda w: "/trips/?sort=price", _trips),
    Page("catalogue filtered", None, lambda w: "/trips/?price_range=mid-range&length_min=3&sort=soonest", _trips),
    Page("search", None, lambda w: "/trips/?q=beach", _trips),
    Page("search typo", None, lambda w: "/trips/?q=beahc", _trips),
    Page("trip page", None, lambda w: f"/trips/{_trips(w, 1)[0].code}/", _all_bookings),
    Page("my bookings", "traveller", lambda w: "/bookings/mine/", _my_bookings),
    Page("booking detail", "traveller", lambda w: f"/bookings/{_my_bookings(w, 1)[0].pk}/", _my_bookings),
    Page("staff bookings", "staff", lambda w: "/bookings/staff/", _all_bookings),
    Page("staff trips", "staff", lambda w: "/trips/staff/", _trips),
    Page("board", "member", lambda w: f"/tasks/teams/{w.team.id}/board/", _tasks),
    Page("list", "member", lambda w: f"/tasks/teams/{w.team.id}/list/?sort=due", _tasks),
    Page("my tasks", "member", lambda w: "/tasks/mine/", _tasks),
    Page("task page", "member", lambda w: f"/tasks/{_tasks(w, 1)[0].id}/", _comments),
    Page("task search", "member", lambda w: "/tasks/search/?q=task", _tasks),
    Page("notifications", "member", lambda w: "/notifications/", _notifications),
    Page("dashboard", "member", lambda w: "/dashboard/", _tasks),
    Page("team dashboard", "member", lambda w: f"/dashboard/teams/{w.team.id}/", _tasks),
    Page("teams", "member", lambda w: "/teams/", _teams),
    Page("team page", "staff", lambda w: f"/teams/{w.team.slug}/", _members),
    Page("profile", "member", lambda w: "/accounts/profile/", _teams),
    Page("sessions", "member", lambda w: "/accounts/sessions/", _sessions),
    Page("audit browser", "admin", lambda w: "/audit/", _audit_rows),
    Page("home", "member", lambda w: "/", _tasks),
]


def _count(client: Client, url: str) -> tuple[int, int, list[str]]:
    """(status, queries, the SQL) of one GET."""
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    return response.status_code, len(queries), [q["sql"][:160] for q in queries.captured_queries]


def _measure(client: Client, w: World, page: Page, n: int, on_commit: Any) -> dict[str, Any]:
    # The commit hooks run as in production (cache invalidation, outbox fast path), so the
    # pages see the new data rather than what their caches kept from the small set.
    with on_commit(execute=True):
        page.grow(w, n)
    url = page.url(w)
    cold_status, cold, cold_sql = _count(client, url)
    status, warm, sql = _count(client, url)
    assert cold_status == status == 200, (page.name, n, cold_status, status)
    return {"cold": cold, "warm": warm, "sql": sql, "cold_sql": cold_sql, "bytes": len(client.get(url).content)}


@pytest.mark.django_db
@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_page_stays_within_the_query_budget_whatever_the_data_size(
    world: World,
    page: Page,
    django_capture_on_commit_callbacks,
) -> None:
    client = Client()
    if page.viewer:
        client.force_login(getattr(world, page.viewer))
    small = _measure(client, world, page, SMALL, django_capture_on_commit_callbacks)
    large = _measure(client, world, page, LARGE, django_capture_on_commit_callbacks)
    # Shown with -s: the figures behind the verdict.
    print(
        f"\n{page.name:<20} queries: {SMALL} objects {small['cold']} first / {small['warm']} warm; "
        f"{LARGE} objects {large['cold']} first / {large['warm']} warm; "
        f"page {small['bytes']} -> {large['bytes']} bytes"
    )
    for label, figures in (("small", small), ("large", large)):
        assert figures["cold"] <= BUDGET, (page.name, label, "first request", figures["cold"], figures["cold_sql"])
        assert figures["warm"] <= BUDGET, (page.name, label, figures["warm"], figures["sql"])
    # Constant in the data size: 50 objects cost no more queries than 5.
    assert large["warm"] <= small["warm"], (page.name, small["warm"], large["warm"], large["sql"])


REPORT_PAGES = [
    "/reports/",
    "/reports/revenue/daily/?start=2025-01-01&end=2025-12-31",
    "/reports/revenue/monthly/?start=2025-01-01&end=2025-12-31",
    "/reports/resorts/?start=2025-01-01&end=2025-12-31",
    "/reports/seats/?start=2025-01-01&end=2025-12-31",
    "/reports/tasks/?start=2025-01-01&end=2025-12-31",
]


def _more_report_data(known: Any, n: int) -> None:
    """n more bookings and tasks, spread over the year, resorts and currencies."""
    from bookings.models import Booking, Departure, Trip, TripListing
    from tasks.models import Task

    resorts = ["Alps", "Riviera", "Lakes", "Fjords", "Islands", "Desert", "Coast"]
    with db_context(DbContext(user_id=str(known.admin.pk), role="system", request_id="budget-testdata")):
        for i in range(n):
            code = f"BUD-{i:03d}"
            start = dt.date(2025, 1 + i % 12, 1 + i % 27)
            trip = Trip.objects.create(code=code, price_minor=40_000 + i * 100, currency=["GBP", "EUR"][i % 2],
                                       seats=30, start=start, length_days=5)  # fmt: skip
            TripListing.objects.create(code=code, version=1, name=f"Budget {i}", resort=resorts[i % len(resorts)],
                                       price_minor=trip.price_minor, currency=trip.currency, price_range="mid-range",
                                       start=start, length_days=5, active=True)  # fmt: skip
            departure = Departure.objects.create(trip=trip, date=start, capacity=30, seats_taken=2)
            booked = dt.datetime(2025, 1 + i % 12, 1 + i % 27, 10, tzinfo=dt.UTC)
            Booking.objects.create(user=[known.traveller1, known.traveller2][i % 2], trip=trip, booking_date=booked,
                                   departure=departure, travel_date=start, travellers=2,
                                   unit_price_minor=trip.price_minor,
                                   total_minor=trip.price_minor * 2, currency=trip.currency,
                                   status=["confirmed", "pending", "cancelled"][i % 3],
                                   confirmed_at=booked if i % 3 == 0 else None,
                                   cancelled_at=booked + dt.timedelta(days=1) if i % 3 == 2 else None,
                                   refund_minor=trip.price_minor if i % 3 == 2 else None)  # fmt: skip
            row = Task.objects.create(team=[known.alpha, known.bravo][i % 2], title=f"budget task {i}", status="done")
            Task.objects.filter(pk=row.pk).update(created_at=booked, done_at=booked + dt.timedelta(hours=5 + i))


def test_report_pages_stay_within_the_query_budget_whatever_the_data_size(committed_db) -> None:
    """The report pages read the star schema the ETL loads (real commits, hence committed_db)."""
    from reports import etl
    from reports.tests.testdata import known_data_create, star_drop

    star_drop()
    try:
        known = known_data_create()
        client = Client()
        client.force_login(known.staff_alpha)
        counts: dict[str, list[int]] = {}
        for extra in (0, LARGE):
            _more_report_data(known, extra)
            assert etl.run_etl().status == "ok"
            for url in REPORT_PAGES:
                client.get(url)  # warm, as for the other pages
                status, queries, sql = _count(client, url)
                assert status == 200, url
                assert queries <= BUDGET, (url, queries, sql)
                counts.setdefault(url, []).append(queries)
        print("\n" + "\n".join(f"{url:<60} queries: {few} -> {many}" for url, (few, many) in counts.items()))
        for url, (few, many) in counts.items():
            assert many <= few, (url, few, many)
    finally:
        star_drop()


@pytest.mark.django_db
def test_the_budget_catches_a_page_that_grows_with_its_data(world: World) -> None:
    """The measurement itself: a deliberately N+1 loop is seen growing (the test above is not vacuous)."""
    from accounts.models import Membership

    _members(world, SMALL)
    with CaptureQueriesContext(connection) as few:
        [m.user.email for m in Membership.objects.filter(team=world.team)]
    _members(world, LARGE)
    with CaptureQueriesContext(connection) as many:
        [m.user.email for m in Membership.objects.filter(team=world.team)]
    assert len(many) > len(few) > BUDGET // 3
