"""The reports ETL: exact figures on a known data set, idempotence, pseudonymity, the command."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connections

from reports import etl, selectors
from reports.schema import STAR_TABLES
from reports.tests.testdata import KnownData, known_data_create, owner_connect, star_drop

D = dt.date


@pytest.fixture
def star(committed_db) -> Iterator[None]:
    """A committed database without a star schema; the schema is dropped again afterwards."""
    star_drop()
    yield
    star_drop()


@pytest.fixture
def known(star) -> KnownData:
    return known_data_create()


def star_rows(sql: str, params: Any = None) -> list[tuple]:
    with owner_connect() as conn:
        return conn.execute(sql, params).fetchall()


def star_snapshot() -> dict[str, list[tuple]]:
    """Every row of every star table, in a stable order (for 'nothing changed')."""
    return {t: star_rows(f"SELECT * FROM star.{t} ORDER BY 1, 2") for t in STAR_TABLES}


def test_etl_builds_the_star_schema_with_exact_figures(known: KnownData) -> None:
    result = etl.run_etl()
    assert result.status == "ok" and result.target == "default"
    assert result.rows["fact_booking"] == 5
    assert result.rows["dim_trip"] == 3
    assert result.rows["dim_resort"] == 2
    assert result.rows["dim_traveller"] == 2
    assert result.rows["dim_team"] == 2
    assert result.rows["fact_seat_inventory"] == 3
    assert result.rows["fact_task_flow"] == 3

    daily = selectors.revenue_rows("day", D(2025, 3, 1), D(2025, 4, 30))
    assert [
        (r.bucket, r.currency, r.bookings, r.cancelled, r.travellers, r.booked_minor, r.revenue_minor) for r in daily
    ] == [
        (D(2025, 3, 3), "GBP", 2, 0, 3, 300_000, 200_000),
        (D(2025, 3, 4), "EUR", 1, 0, 3, 150_000, 150_000),
        (D(2025, 4, 10), "GBP", 1, 1, 0, 0, 80_000),
        (D(2025, 4, 11), "GBP", 1, 1, 0, 0, 0),
    ]
    monthly = selectors.revenue_rows("month", D(2025, 1, 1), D(2025, 12, 31))
    assert [(r.bucket, r.currency, r.bookings, r.revenue_minor) for r in monthly] == [
        (D(2025, 3, 1), "EUR", 1, 150_000),
        (D(2025, 3, 1), "GBP", 2, 200_000),
        (D(2025, 4, 1), "GBP", 2, 80_000),
    ]
    series = selectors.revenue_series(monthly, "month", D(2025, 2, 1), D(2025, 4, 30), "GBP")
    assert series == [(D(2025, 2, 1), 0), (D(2025, 3, 1), 200_000), (D(2025, 4, 1), 80_000)]

    resorts = selectors.resort_rows(D(2025, 1, 1), D(2025, 12, 31))
    assert [
        (r.resort, r.currency, r.bookings, r.cancelled, r.travellers, r.customers, r.revenue_minor) for r in resorts
    ] == [
        ("Alps", "GBP", 2, 2, 3, 2, 280_000),
        ("Riviera", "EUR", 1, 0, 3, 1, 150_000),
    ]

    seats = selectors.seat_rows(D(2025, 5, 1), D(2025, 7, 31))
    assert [(s.code, s.resort, s.departure, s.capacity, s.taken, s.confirmed, s.pending, s.percent) for s in seats] == [
        ("SKI-1", "Alps", D(2025, 6, 1), 10, 3, 2, 1, 30),
        ("SEA-1", "Riviera", D(2025, 6, 15), 20, 3, 3, 0, 15),
        ("SKI-2", "Alps", D(2025, 7, 1), 8, 0, 0, 0, 0),
    ]

    flow = selectors.flow_rows([known.alpha.pk, known.bravo.pk], D(2025, 3, 1), D(2025, 3, 31))
    assert [(f.team_id, f.week, f.created, f.done, f.cycle_hours_avg, f.cycle_hours_median) for f in flow] == [
        (known.alpha.pk, D(2025, 3, 3), 3, 2, Decimal("42.00"), Decimal("42.00")),
        (known.alpha.pk, D(2025, 3, 10), 1, 1, Decimal("24.00"), Decimal("24.00")),
        (known.bravo.pk, D(2025, 3, 3), 1, 1, Decimal("10.00"), Decimal("10.00")),
    ]
    totals = selectors.team_totals(flow, [(known.alpha.pk, "Alpha"), (known.bravo.pk, "Bravo")])
    # (42*2 + 24*1) / 3 = 36: the average over the tasks, not over the weeks.
    assert [(t.team, t.created, t.done, t.cycle_hours_avg) for t in totals] == [
        ("Alpha", 4, 3, Decimal("36.00")),
        ("Bravo", 1, 1, Decimal("10.00")),
    ]


def test_etl_twice_changes_nothing_the_second_time(known: KnownData) -> None:
    first = etl.run_etl()
    before = star_snapshot()
    second = etl.run_etl()
    assert second.status == "ok"
    assert second.rows == first.rows
    assert sum(second.changes.values()) == 0, second.changes
    assert star_snapshot() == before
    runs = star_rows("SELECT status FROM star.etl_run ORDER BY id")
    assert runs == [("ok",), ("ok",)]


def test_etl_follows_changes_and_deletions_at_the_source(known: KnownData) -> None:
    from bookings.models import Booking
    from taskforge.dbcontext import DbContext, db_context

    etl.run_etl()
    with db_context(DbContext(user_id=str(known.admin.pk), role="system")):
        pending = Booking.objects.get(status="pending")
        Booking.objects.filter(pk=pending.pk).update(status="confirmed", confirmed_at=pending.booking_date)
        gone = Booking.objects.filter(trip_id="SEA-1").get()
        Booking.objects.filter(pk=gone.pk).delete()
    result = etl.run_etl()
    assert result.changes["fact_booking"] == 2  # one updated, one deleted
    assert result.rows["fact_booking"] == 4
    daily = {
        (r.bucket, r.currency): r.revenue_minor for r in selectors.revenue_rows("day", D(2025, 3, 1), D(2025, 3, 31))
    }
    assert daily == {(D(2025, 3, 3), "GBP"): 300_000}


def test_revenue_of_a_confirmed_booking_is_net_of_refunds_for_travellers_taken_off(known: KnownData) -> None:
    """A reduction keeps the removed travellers' price in the total and records their
    refund (bookings.services.booking_reduce_travellers): revenue is what was not refunded."""
    from bookings.models import Booking
    from taskforge.dbcontext import DbContext, db_context

    with db_context(DbContext(user_id=str(known.admin.pk), role="system")):
        sea = Booking.objects.get(trip_id="SEA-1")  # 3 travellers at 50,000, confirmed
        Booking.objects.filter(pk=sea.pk).update(travellers=1, removed_travellers=2, refund_minor=50_000)
    etl.run_etl()
    daily = {
        (r.bucket, r.currency): (r.travellers, r.revenue_minor)
        for r in selectors.revenue_rows("day", D(2025, 3, 1), D(2025, 3, 31))
    }
    assert daily[(D(2025, 3, 4), "EUR")] == (1, 150_000 - 50_000)


def test_travellers_are_pseudonymous_in_the_star_schema(known: KnownData) -> None:
    etl.run_etl()
    keys = {k for (k,) in star_rows("SELECT traveller_key FROM star.dim_traveller")}
    assert keys == {etl.traveller_key(known.traveller1.pk), etl.traveller_key(known.traveller2.pk)}
    assert not keys & {str(known.traveller1.pk), str(known.traveller2.pk)}
    columns = {
        c for (c,) in star_rows("SELECT column_name FROM information_schema.columns WHERE table_schema = 'star'")
    }
    assert not {"user_id", "email", "display_name"} & columns
    dump = str(star_snapshot())
    assert "example.com" not in dump


def test_the_app_role_may_read_but_not_write_the_star_schema(known: KnownData) -> None:
    etl.run_etl()
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT current_user, count(*) FROM star.fact_booking")
        assert cursor.fetchone() == (settings.DB_APP_ROLE, 5)
    with pytest.raises(Exception, match="permission denied"), connections["default"].cursor() as cursor:
        cursor.execute("DELETE FROM star.fact_booking")


def test_a_second_concurrent_load_stops_at_once(known: KnownData) -> None:
    etl.run_etl()
    with owner_connect() as holder:
        holder.autocommit = False
        holder.execute("SELECT pg_advisory_xact_lock(%s)", [etl.LOCK_KEY])
        assert etl.run_etl().status == "busy"
        holder.rollback()
    assert etl.run_etl().status == "ok"


def test_reports_before_any_load_say_so(star) -> None:
    with pytest.raises(selectors.StarUnavailable, match="not been built"):
        selectors.revenue_rows("day", D(2025, 3, 1), D(2025, 3, 31))


def test_manage_py_reports_etl(known: KnownData, capsys: pytest.CaptureFixture[str]) -> None:
    call_command("reports_etl")
    out = capsys.readouterr().out
    assert "reports ETL loaded into default" in out
    assert "star.fact_booking: 5 rows (5 changed)" in out
    call_command("reports_etl")
    assert "star.fact_booking: 5 rows (0 changed)" in capsys.readouterr().out


def test_a_failed_connection_is_a_clear_error(star, settings) -> None:
    settings.DATABASE_BACKUP = {**settings.DATABASE_BACKUP, "USER": "no_such_role_for_reports"}
    with pytest.raises(etl.EtlError, match="cannot connect to the primary as the backup role"):
        etl.run_etl()
    assert star_rows("SELECT status, error <> '' FROM star.etl_run") == [("failed", True)]


def test_etl_on_an_empty_database(star) -> None:
    result = etl.run_etl()
    assert result.status == "ok"
    assert {t: n for t, n in result.rows.items() if t != "dim_date"} == dict.fromkeys(
        [t for t in STAR_TABLES if t != "dim_date"], 0
    )
    assert result.rows["dim_date"] == 1  # today's snapshot date
    assert selectors.revenue_rows("day", D(2025, 1, 1), D(2025, 12, 31)) == []


def test_beat_runs_the_etl_every_15_minutes_on_a_registered_task() -> None:
    from reports.jobs import reports_etl
    from taskforge.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["reports-etl"]
    assert entry["task"] == reports_etl.name == "default.reports_etl"
    assert entry["schedule"].minute == {0, 15, 30, 45}
    assert reports_etl.name in app.tasks  # registered by ReportsConfig.ready()


def test_the_backup_role_can_dump_the_star_schema(known: KnownData) -> None:
    """Nightly backups dump every schema as the backup role: the star schema must not break them."""
    import subprocess

    from backups.storage import pg_cli_args

    etl.run_etl()
    args, env = pg_cli_args(settings.DATABASE_BACKUP, connections["default"].settings_dict["NAME"])
    dump = subprocess.run(
        ["pg_dump", *args, "--schema=star", "--format=plain"], env=env, capture_output=True, text=True, timeout=60
    )
    assert dump.returncode == 0, dump.stderr
    assert "CREATE TABLE star.fact_booking" in dump.stdout
