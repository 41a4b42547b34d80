"""Replica and reports routing, end to end: with a `replica` alias configured (pointing
at the test database as the application role), lag-tolerant reads (the catalogue, the
reports) go to it and the page shown after a booking (read-your-writes) does not; with
a `reports` alias, the ETL loads into it and the report pages read from it."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import pytest
from django.conf import settings
from django.db import connections
from django.test import Client
from django.utils import timezone

from reports import etl, selectors
from reports.tests.testdata import known_data_create, owner_connect, star_drop


@contextmanager
def extra_alias(alias: str, **overrides: Any) -> Iterator[None]:
    """Configure one more database alias (a copy of `default` with overrides) for real:
    the router sees it in settings.DATABASES and `connections` can open it."""
    config = copy.deepcopy(connections.settings["default"])
    config.update(overrides)
    config["TEST"] = {**config.get("TEST", {}), "MIRROR": "default"}
    connections.settings[alias] = config
    if alias not in settings.DATABASES:  # the same dict unless a test replaced it
        settings.DATABASES[alias] = config
    try:
        yield
    finally:
        conn = connections[alias]
        conn.close()
        if hasattr(conn, "close_pool"):
            conn.close_pool()
        del connections[alias]
        connections.settings.pop(alias, None)
        settings.DATABASES.pop(alias, None)


class Recorder:
    """execute_wrapper: the SQL run on one alias."""

    def __init__(self) -> None:
        self.sql: list[str] = []

    def __call__(self, execute, sql, params, many, context):
        self.sql.append(sql)
        return execute(sql, params, many, context)


@contextmanager
def recording(*aliases: str) -> Iterator[dict[str, Recorder]]:
    recorders = {alias: Recorder() for alias in aliases}
    with ExitStack() as stack:
        for alias, recorder in recorders.items():
            stack.enter_context(connections[alias].execute_wrapper(recorder))
        yield recorders


@pytest.fixture
def data(committed_db):
    from bookings.models import Trip, TripListing
    from taskforge.dbcontext import DbContext, db_context

    star_drop()
    known = known_data_create()
    start = timezone.localdate() + dt.timedelta(days=60)
    with db_context(DbContext(user_id=str(known.admin.pk), role="system")):
        Trip.objects.create(code="FJORD-1", price_minor=90_000, currency="GBP", seats=12, start=start, length_days=5)
        TripListing.objects.create(
            code="FJORD-1",
            version=1,
            name="Future fjords",
            resort="Bergen",
            price_minor=90_000,
            currency="GBP",
            price_range="mid-range",
            start=start,
            length_days=5,
            active=True,
        )
    yield known
    star_drop()


def test_star_alias_follows_the_router(settings) -> None:
    assert selectors.star_alias() == "default"
    settings.DATABASES = {**settings.DATABASES, "replica": dict(settings.DATABASES["default"])}
    assert selectors.star_alias() == "replica"  # the standby is a physical copy, star schema included
    settings.DATABASES = {**settings.DATABASES, "reports": dict(settings.DATABASES["default"])}
    assert selectors.star_alias() == "reports"
    assert etl.star_target() == "reports"


def test_lag_tolerant_reads_use_the_replica_and_read_your_writes_does_not(data) -> None:
    from bookings.models import Booking
    from taskforge.dbcontext import DbContext, db_context

    etl.run_etl()
    traveller, staff = Client(), Client()
    traveller.force_login(data.traveller1)
    staff.force_login(data.staff_alpha)
    with extra_alias("replica"):
        with recording("default", "replica") as rec:
            catalogue = traveller.get("/trips/")
        assert catalogue.status_code == 200 and b"Future fjords" in catalogue.content
        assert any("bookings_trip_listing" in sql for sql in rec["replica"].sql)
        assert not any("bookings_trip_listing" in sql for sql in rec["default"].sql)

        with recording("default", "replica") as rec:
            report = staff.get("/reports/resorts/?start=2025-01-01&end=2025-12-31")
        assert report.status_code == 200 and b'data-resort="Alps"' in report.content
        assert any("star.fact_booking" in sql for sql in rec["replica"].sql)
        assert not any("star." in sql for sql in rec["default"].sql)

        # The booking page reads its own writes: the primary only, never the replica.
        with db_context(DbContext(user_id=str(data.traveller1.pk), role="user")):
            booking_id = Booking.objects.filter(user=data.traveller1).values_list("pk", flat=True).first()
        with recording("default", "replica") as rec:
            page = traveller.get(f"/bookings/{booking_id}/")
        assert page.status_code == 200
        assert any("bookings_booking" in sql for sql in rec["default"].sql)
        # (the context middleware sets rls.* on every open connection; that is all it may see)
        assert [sql for sql in rec["replica"].sql if "set_config" not in sql] == []


def test_with_a_reports_alias_the_etl_loads_it_and_pages_read_it(data) -> None:
    owner = settings.DATABASE_OWNER
    staff = Client()
    staff.force_login(data.staff_alpha)
    # The reports database here is the test database itself, reached as the owner role
    # (a stand-in for the reports role, which may create the star schema there).
    with extra_alias("reports", USER=owner["USER"], PASSWORD=owner.get("PASSWORD") or ""), extra_alias("replica"):
        result = etl.run_etl()
        assert result.status == "ok" and result.target == "reports"
        with recording("default", "replica", "reports") as rec:
            page = staff.get("/reports/revenue/monthly/?start=2025-01-01&end=2025-12-31")
        assert page.status_code == 200 and b'data-revenue="280000"' in page.content
        assert any("star.fact_booking" in sql for sql in rec["reports"].sql)
        assert not any("star." in sql for sql in rec["default"].sql + rec["replica"].sql)
    with owner_connect() as conn:
        assert conn.execute("SELECT target FROM star.etl_run").fetchall() == [("reports",)]


def test_system_page_reports_a_configured_replica(committed_db) -> None:
    from accounts.models import User

    admin = Client()
    admin.force_login(User.objects.create_superuser("system-replica@example.com", None))
    with extra_alias("replica"):
        page = admin.get("/system/").content.decode()
    # The stand-in replica is the primary itself, so the page flags it as not being a standby.
    assert "Replica alias" in page and "not a standby" in page
    assert "No standby configured." not in page
