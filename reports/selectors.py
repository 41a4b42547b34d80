"""Reads of the star schema for the report pages (and who may see which team).

Every query runs inside `replica_reads()` and on the alias the router chooses for the
analytics label: the reports database when configured; otherwise the hot standby when
configured (it is a physical copy of the primary, star schema included); otherwise the
primary. Reports tolerate lag: they are at most one ETL run old anyway.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from django.db import DatabaseError, connections, router

from accounts.models import Team
from accounts.permissions import permission_has
from taskforge.routers import replica_reads

# What the router sees for star-schema reads: the analytics app label (taskforge/routers.py).
STAR = SimpleNamespace(_meta=SimpleNamespace(app_label="reports", model_name="star", label_lower="reports.star"))
SEATS_ROW_CAP = 1000


class StarUnavailable(Exception):
    """The star schema cannot be read: never loaded yet, or its database is unreachable."""


def star_alias() -> str:
    """The database alias star reads go to (the router's choice inside replica_reads())."""
    with replica_reads():
        return router.db_for_read(STAR)


def _query(sql: str, params: dict[str, Any] | list[Any] | None = None) -> list[dict[str, Any]]:
    try:
        with replica_reads():
            alias = router.db_for_read(STAR)
            with connections[alias].cursor() as cursor:
                cursor.execute("SELECT to_regclass('star.etl_run') IS NOT NULL")
                if not cursor.fetchone()[0]:
                    raise StarUnavailable("The reports have not been built yet.")
                cursor.execute(sql, params)
                columns = [col.name for col in cursor.description]
                return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    except DatabaseError as exc:
        raise StarUnavailable(f"The reports database cannot be read right now ({type(exc).__name__}).") from exc


# --- load status -------------------------------------------------------------------------------


@dataclass(frozen=True)
class EtlRun:
    """One logged ETL run."""

    id: int
    finished_at: dt.datetime
    status: str
    target: str
    rows: dict[str, int]
    changes: dict[str, int]
    error: str


def etl_last_runs() -> tuple[EtlRun | None, EtlRun | None]:
    """(last successful run, last failed run if it came after it)."""
    rows = _query(
        """
        (SELECT id, finished_at, status, target, rows, changes, error FROM star.etl_run
         WHERE status = 'ok' ORDER BY finished_at DESC LIMIT 1)
        UNION ALL
        (SELECT id, finished_at, status, target, rows, changes, error FROM star.etl_run
         WHERE status = 'failed' ORDER BY finished_at DESC LIMIT 1)
        """
    )
    runs = {row["status"]: EtlRun(**row) for row in rows}
    ok, failed = runs.get("ok"), runs.get("failed")
    if failed and ok and failed.finished_at < ok.finished_at:
        failed = None
    return ok, failed


# --- revenue -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RevenueRow:
    """Bookings made in one day or month, in one currency."""

    bucket: dt.date  # the day, or the first day of the month
    currency: str
    bookings: int  # made in the bucket, including those cancelled since
    cancelled: int
    travellers: int  # of the bookings not cancelled
    booked_minor: int  # total of the bookings not cancelled
    revenue_minor: int  # see etl.REVENUE_SQL


def revenue_rows(period: str, start: dt.date, end: dt.date) -> list[RevenueRow]:
    """Per day ("day") or month ("month") of the booking date, per currency, start..end inclusive."""
    bucket = {"day": "d.date", "month": "d.month_start"}[period]
    rows = _query(
        f"""
        SELECT {bucket} AS bucket, f.currency,
               count(*) AS bookings,
               count(*) FILTER (WHERE f.status = 'cancelled') AS cancelled,
               COALESCE(sum(f.travellers) FILTER (WHERE f.status <> 'cancelled'), 0) AS travellers,
               COALESCE(sum(f.amount_minor) FILTER (WHERE f.status <> 'cancelled'), 0) AS booked_minor,
               COALESCE(sum(f.revenue_minor), 0) AS revenue_minor
        FROM star.fact_booking f JOIN star.dim_date d ON d.date_key = f.booking_date_key
        WHERE d.date BETWEEN %(start)s AND %(end)s
        GROUP BY 1, 2 ORDER BY 1, 2
        """,
        {"start": start, "end": end},
    )
    return [RevenueRow(**{k: (v.strip() if k == "currency" else v) for k, v in row.items()}) for row in rows]


def buckets(period: str, start: dt.date, end: dt.date) -> list[dt.date]:
    """Every day, or the first day of every month, from start to end."""
    if period == "day":
        return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
    out, month = [], start.replace(day=1)
    while month <= end:
        out.append(month)
        month = (month + dt.timedelta(days=32)).replace(day=1)
    return out


def revenue_series(
    rows: list[RevenueRow], period: str, start: dt.date, end: dt.date, currency: str
) -> list[tuple[dt.date, int]]:
    """Revenue of one currency per bucket, zero where nothing was booked."""
    by_bucket = {row.bucket: row.revenue_minor for row in rows if row.currency == currency}
    return [(b, int(by_bucket.get(b, 0))) for b in buckets(period, start, end)]


def currencies_by_revenue(rows: list[RevenueRow]) -> list[str]:
    totals: dict[str, int] = {}
    for row in rows:
        totals[row.currency] = totals.get(row.currency, 0) + row.revenue_minor + row.booked_minor
    return sorted(totals, key=lambda c: (-totals[c], c))


# --- bookings per resort -----------------------------------------------------------------------


@dataclass(frozen=True)
class ResortRow:
    """Bookings of one resort made in the range, in one currency."""

    resort: str
    currency: str
    bookings: int  # not cancelled
    cancelled: int
    travellers: int
    customers: int  # distinct travellers (pseudonyms) with a booking not cancelled
    revenue_minor: int


def resort_rows(start: dt.date, end: dt.date) -> list[ResortRow]:
    rows = _query(
        """
        SELECT r.name AS resort, f.currency,
               count(*) FILTER (WHERE f.status <> 'cancelled') AS bookings,
               count(*) FILTER (WHERE f.status = 'cancelled') AS cancelled,
               COALESCE(sum(f.travellers) FILTER (WHERE f.status <> 'cancelled'), 0) AS travellers,
               count(DISTINCT f.traveller_key) FILTER (WHERE f.status <> 'cancelled') AS customers,
               COALESCE(sum(f.revenue_minor), 0) AS revenue_minor
        FROM star.fact_booking f
        JOIN star.dim_resort r ON r.resort_key = f.resort_key
        JOIN star.dim_date d ON d.date_key = f.booking_date_key
        WHERE d.date BETWEEN %(start)s AND %(end)s
        GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2
        """,
        {"start": start, "end": end},
    )
    return [ResortRow(**{k: (v.strip() if k == "currency" else v) for k, v in row.items()}) for row in rows]


def resort_totals(rows: list[ResortRow]) -> list[tuple[str, int]]:
    """Bookings per resort over all currencies, most first (for the chart)."""
    totals: dict[str, int] = {}
    for row in rows:
        totals[row.resort] = totals.get(row.resort, 0) + row.bookings
    return sorted(totals.items(), key=lambda item: (-item[1], item[0]))


# --- seat utilisation --------------------------------------------------------------------------


@dataclass(frozen=True)
class SeatRow:
    """One departure in the latest seat-inventory snapshot."""

    code: str
    trip: str
    resort: str
    departure: dt.date
    capacity: int
    taken: int
    confirmed: int
    pending: int
    snapshot: dt.date

    @property
    def utilisation(self) -> float:
        return self.taken / self.capacity if self.capacity else 0.0

    @property
    def percent(self) -> int:
        return round(self.utilisation * 100)


def seat_rows(start: dt.date, end: dt.date, *, limit: int = SEATS_ROW_CAP) -> list[SeatRow]:
    """Departures between start and end (departure date), from the latest snapshot."""
    rows = _query(
        """
        WITH latest AS (SELECT max(snapshot_date_key) AS k FROM star.fact_seat_inventory)
        SELECT t.code, t.name AS trip, r.name AS resort, dd.date AS departure, s.capacity,
               s.seats_taken AS taken, s.confirmed_travellers AS confirmed, s.pending_travellers AS pending,
               sd.date AS snapshot
        FROM star.fact_seat_inventory s
        JOIN latest ON s.snapshot_date_key = latest.k
        JOIN star.dim_trip t ON t.trip_key = s.trip_key
        JOIN star.dim_resort r ON r.resort_key = s.resort_key
        JOIN star.dim_date dd ON dd.date_key = s.departure_date_key
        JOIN star.dim_date sd ON sd.date_key = s.snapshot_date_key
        WHERE dd.date BETWEEN %(start)s AND %(end)s
        ORDER BY dd.date, t.code
        LIMIT %(limit)s
        """,
        {"start": start, "end": end, "limit": limit},
    )
    return [SeatRow(**row) for row in rows]


# --- task flow ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class FlowRow:
    """One team's week."""

    team_id: int
    week: dt.date  # Monday
    created: int
    done: int
    cycle_hours_avg: Decimal | None
    cycle_hours_median: Decimal | None


@dataclass(frozen=True)
class TeamFlow:
    """One team's totals over the range."""

    team_id: int
    team: str
    created: int
    done: int
    cycle_hours_avg: Decimal | None  # weighted by the tasks done each week


def flow_rows(team_ids: list[int], start: dt.date, end: dt.date) -> list[FlowRow]:
    if not team_ids:
        return []
    rows = _query(
        """
        SELECT f.team_key AS team_id, d.date AS week, f.created, f.done, f.cycle_hours_avg, f.cycle_hours_median
        FROM star.fact_task_flow f JOIN star.dim_date d ON d.date_key = f.week_start_key
        WHERE f.team_key = ANY(%(teams)s) AND d.date BETWEEN %(start)s AND %(end)s
        ORDER BY f.team_key, d.date
        """,
        {"teams": list(team_ids), "start": start, "end": end},
    )
    return [FlowRow(**row) for row in rows]


def team_totals(rows: list[FlowRow], teams: list[tuple[int, str]]) -> list[TeamFlow]:
    out = []
    for team_id, name in teams:
        mine = [r for r in rows if r.team_id == team_id]
        done = sum(r.done for r in mine)
        weighted = sum((r.cycle_hours_avg or Decimal(0)) * r.done for r in mine)
        avg = (weighted / done).quantize(Decimal("0.01")) if done else None
        out.append(TeamFlow(team_id, name, sum(r.created for r in mine), done, avg))
    return out


def weeks(start: dt.date, end: dt.date) -> list[dt.date]:
    """The Mondays of the weeks that start within start..end (start is moved back to its Monday)."""
    monday = start - dt.timedelta(days=start.weekday())
    return [monday + dt.timedelta(weeks=i) for i in range((end - monday).days // 7 + 1)]


def visible_teams(user: Any) -> list[tuple[int, str]]:
    """(id, name) of the teams whose task reports the user may see: every team for site
    admins; for anyone else, the teams where they hold task.view."""
    if user.is_site_admin:
        return list(Team.objects.order_by("name", "id").values_list("id", "name"))
    teams = Team.objects.filter(memberships__user_id=user.pk).order_by("name", "id").values_list("id", "name")
    return [(tid, name) for tid, name in teams if permission_has(user, tid, "task.view")]
