"""The reports ETL: extract from the primary, load the star schema.

* **Extract** on the primary as the backup role (settings.DATABASE_BACKUP: BYPASSRLS, so
  row-level security hides no booking; read-only), in one REPEATABLE READ READ ONLY
  transaction, so every table is read from the same snapshot. Task flow is aggregated
  on the source (per team and week) so only small rows travel.
* **Load** into the schema `star` (reports/schema.py) of the reports database
  when the `reports` alias is configured (with its credentials), else of the default
  database as the owner role (the application role may not create schemas).
* **Full reload, applied as a merge**: every run reads everything and, in one target
  transaction, upserts the rows that changed and deletes fact rows that no longer exist
  at the source. Running it twice in a row changes nothing the second time; readers are
  never blocked (no TRUNCATE) and see either the old or the new load, never half of one.
  Dimensions are only upserted (a dimension row of a deleted source row is harmless
  history). Seat inventory is a daily snapshot: earlier days are kept, today's is merged.
* One load at a time: a session advisory lock on the target (released by the server
  if the process dies); a second run that finds it held returns "busy" at once.

Travellers appear only as a pseudonym: a keyed HMAC (SECRET_KEY) of the user id. The
star schema holds no user id, email or name.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
from django.conf import settings
from django.db import connections
from django.utils.crypto import salted_hmac

from reports import etl_departures
from reports.etl_merge import date_key as _date_key
from reports.etl_merge import delete_rows as _delete
from reports.etl_merge import upsert as _upsert
from reports.schema import STAR_TABLES, schema_ensure
from taskforge import pgconn

logger = logging.getLogger(__name__)

LOCK_KEY = 0x74667270  # "tfrp": one reports load at a time
TRAVELLER_SALT = "taskforge.reports.traveller"
FETCH_BATCH = 5000

# Revenue of a booking, in one place: confirmed bookings at their total less what was
# refunded for travellers taken off; a cancelled booking that had been confirmed keeps
# what was not refunded (the cancellation fee); pending bookings and those cancelled
# before confirmation earn nothing (yet).
REVENUE_SQL = (
    "CASE WHEN s.status = 'confirmed' THEN s.amount_minor - s.refund_minor "
    "WHEN s.status = 'cancelled' AND s.confirmed_at IS NOT NULL THEN s.amount_minor - s.refund_minor "
    "ELSE 0 END"
)


class EtlError(Exception):
    """The ETL could not run (message says why)."""


@dataclass
class EtlResult:
    """What one ETL run did."""

    status: str  # "ok" or "busy" (another load held the lock)
    target: str  # "reports" or "default"
    seconds: float = 0.0
    rows: dict[str, int] = field(default_factory=dict)
    changes: dict[str, int] = field(default_factory=dict)
    run_id: int | None = None

    def summary(self) -> str:
        if self.status != "ok":
            return f"{self.status} (another load is running)"
        changed = ", ".join(f"{k} {v}" for k, v in self.changes.items() if v) or "nothing changed"
        return f"loaded into {self.target} in {self.seconds:.2f}s: {changed}"


# --- connections ------------------------------------------------------------------------------


def star_target() -> str:
    """Where the star schema lives: the reports database if configured, else the default one."""
    return "reports" if "reports" in settings.DATABASES else "default"


def _live_db_name() -> str:
    # The database the site uses (the test database under pytest).
    return connections["default"].settings_dict["NAME"]


def _connect(config: dict[str, Any], dbname: str, *, purpose: str) -> psycopg.Connection:
    return psycopg.connect(
        **pgconn.connect_kwargs(config),
        dbname=dbname,
        connect_timeout=10,
        application_name=f"taskforge-reports-{purpose}",
        options="-c TimeZone=UTC",
    )


def target_connect() -> psycopg.Connection:
    """The connection that creates and loads the star schema."""
    if star_target() == "reports":
        config = settings.DATABASES["reports"]
        return _connect(config, config["NAME"], purpose="load")
    return _connect(settings.DATABASE_OWNER, _live_db_name(), purpose="load")


def source_connect() -> psycopg.Connection:
    """The primary, as the backup role (BYPASSRLS, read-only)."""
    return _connect(settings.DATABASE_BACKUP, _live_db_name(), purpose="extract")


def star_readers() -> list[str]:
    """Roles granted SELECT on the star schema: in the default database, the site's role
    and the backup role (pg_dump must read every schema). In the reports database the
    loading role is the one that reads."""
    if star_target() == "reports":
        return []
    return [settings.DB_APP_ROLE, settings.DB_BACKUP_ROLE]


def traveller_key(user_id: int) -> str:
    """The pseudonym of a traveller: stable for a given SECRET_KEY, not reversible without it."""
    return salted_hmac(TRAVELLER_SALT, str(user_id), algorithm="sha256").hexdigest()[:24]


# --- extract -----------------------------------------------------------------------------------

EXTRACTS: dict[str, tuple[str, str]] = {
    # name: (staging table definition, source query)
    "trip": (
        "id bigint, code text, name text, resort text, price_minor bigint, currency text, seats integer, "
        "start_date date, length_days smallint, active boolean",
        """
        SELECT t.id, t.code, COALESCE(NULLIF(btrim(l.name), ''), t.code),
               COALESCE(NULLIF(btrim(l.resort), ''), 'Unknown'),
               t.price_minor, t.currency, t.seats, t.start, t.length_days, t.active
        FROM bookings_trip t LEFT JOIN bookings_trip_listing l ON l.code = t.code
        """,
    ),
    "departure": (
        "id bigint, trip_id bigint, date date, capacity integer, seats_taken integer, "
        "confirmed_travellers integer, pending_travellers integer",
        """
        SELECT d.id, d.trip_id, d.date, d.capacity, d.seats_taken,
               COALESCE(sum(b.travellers) FILTER (WHERE b.status = 'confirmed'), 0),
               COALESCE(sum(b.travellers) FILTER (WHERE b.status = 'pending'), 0)
        FROM bookings_departure d
        JOIN bookings_trip t ON t.id = d.trip_id
        LEFT JOIN bookings_booking b ON b.trip_code = t.code AND b.travel_date = d.date
        GROUP BY d.id
        """,
    ),
    "booking": (
        "id bigint, traveller_key text, trip_code text, booked_at timestamptz, booking_date date, travel_date date, "
        "status text, travellers integer, amount_minor bigint, refund_minor bigint, currency text, "
        "confirmed_at timestamptz, cancelled_at timestamptz, departure_id bigint",
        """
        SELECT b.id, b.user_id, b.trip_code, b.booking_date, (b.booking_date AT TIME ZONE 'UTC')::date,
               b.travel_date, b.status, b.travellers, b.total_minor, COALESCE(b.refund_minor, 0), b.currency,
               b.confirmed_at, b.cancelled_at, b.departure_id
        FROM bookings_booking b
        """,
    ),
    "traveller": (
        "traveller_key text, joined_month date, first_booking_date date",
        """
        SELECT u.id, date_trunc('month', u.date_joined AT TIME ZONE 'UTC')::date,
               min(b.booking_date AT TIME ZONE 'UTC')::date
        FROM accounts_user u JOIN bookings_booking b ON b.user_id = u.id
        GROUP BY u.id
        """,
    ),
    "team": ("id bigint, name text", "SELECT id, name FROM accounts_team"),
    "task_flow": (
        "team_id bigint, week_start date, created integer, done integer, "
        "cycle_hours_avg numeric, cycle_hours_median numeric",
        """
        WITH created AS (
            SELECT team_id, date_trunc('week', created_at AT TIME ZONE 'UTC')::date AS week_start,
                   count(*) AS n
            FROM tasks_task GROUP BY 1, 2
        ), done AS (
            SELECT team_id, date_trunc('week', done_at AT TIME ZONE 'UTC')::date AS week_start, count(*) AS n,
                   avg(extract(epoch FROM done_at - created_at)) / 3600 AS avg_h,
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM done_at - created_at)) / 3600
                       AS median_h
            FROM tasks_task WHERE status = 'done' AND done_at IS NOT NULL GROUP BY 1, 2
        )
        SELECT team_id, week_start, COALESCE(c.n, 0), COALESCE(d.n, 0),
               round(d.avg_h::numeric, 2), round(d.median_h::numeric, 2)
        FROM created c FULL JOIN done d USING (team_id, week_start)
        """,
    ),
    # Departures, waiting-list demand and checklist tasks (reports/etl_departures.py).
    **etl_departures.EXTRACTS,
}


def _stream(src: psycopg.Connection, name: str, query: str) -> Iterator[tuple[Any, ...]]:
    # A server-side cursor: big tables stream in batches instead of sitting in memory.
    with src.cursor(name=f"reports_{name}") as cursor:
        cursor.itersize = FETCH_BATCH
        cursor.execute(query)
        yield from cursor


def _stage(src: psycopg.Connection, tgt: psycopg.Connection) -> tuple[dict[str, int], dt.date]:
    """Copy every extract into a temporary staging table of the target. Returns rows per
    extract and the snapshot's date (UTC)."""
    counts: dict[str, int] = {}
    snapshot_date = src.execute("SELECT (now() AT TIME ZONE 'UTC')::date").fetchone()[0]
    for name, (columns, query) in EXTRACTS.items():
        tgt.execute(f"CREATE TEMP TABLE stg_{name} ({columns}) ON COMMIT DROP")
        rows = _stream(src, name, query)
        # User ids never reach the target: they are replaced by the pseudonym on the way.
        if name == "booking":
            rows = ((r[0], traveller_key(r[1]), *r[2:]) for r in rows)
        elif name == "traveller":
            rows = ((traveller_key(r[0]), *r[1:]) for r in rows)
        n = 0
        with tgt.cursor().copy(f"COPY stg_{name} FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
                n += 1
        counts[name] = n
    for name in EXTRACTS:
        tgt.execute(f"ANALYZE stg_{name}")
    return counts, snapshot_date


# --- load ----------------------------------------------------------------------------------------


def _load(tgt: psycopg.Connection, snapshot_date: dt.date) -> dict[str, int]:
    """Merge the staging tables into the star schema. Returns rows changed per table."""
    snap = {"snapshot": snapshot_date, "snap_key": int(snapshot_date.strftime("%Y%m%d"))}
    changes: dict[str, int] = {}
    # Every date any fact refers to, as one continuous range (charts need the empty days too).
    changes["dim_date"] = tgt.execute(
        f"""
        INSERT INTO star.dim_date (date_key, date, year, quarter, month, day, month_start, iso_year, iso_week,
                                   week_start, day_of_week, is_weekend)
        SELECT {_date_key("g.d")}, g.d, extract(year FROM g.d), extract(quarter FROM g.d), extract(month FROM g.d),
               extract(day FROM g.d), date_trunc('month', g.d)::date, extract(isoyear FROM g.d),
               extract(week FROM g.d), date_trunc('week', g.d)::date, extract(isodow FROM g.d),
               extract(isodow FROM g.d) >= 6
        FROM (
            SELECT min(x) AS lo, max(x) AS hi FROM (
                SELECT booking_date AS x FROM stg_booking
                UNION ALL SELECT travel_date FROM stg_booking
                UNION ALL SELECT date FROM stg_departure
                UNION ALL SELECT start_date FROM stg_trip
                UNION ALL SELECT week_start FROM stg_task_flow
                UNION ALL {etl_departures.DATES_SQL}
                UNION ALL SELECT %(snapshot)s::date
            ) dates
        ) bounds, LATERAL (SELECT generate_series(bounds.lo, bounds.hi, interval '1 day')::date AS d) g
        ON CONFLICT (date_key) DO NOTHING
        """,
        snap,
    ).rowcount
    # NOT EXISTS first: ON CONFLICT alone would still draw a sequence value per resort per run.
    changes["dim_resort"] = tgt.execute(
        """
        INSERT INTO star.dim_resort (name)
        SELECT DISTINCT s.resort FROM stg_trip s
        WHERE NOT EXISTS (SELECT 1 FROM star.dim_resort r WHERE r.name = s.resort)
        ON CONFLICT (name) DO NOTHING
        """
    ).rowcount
    changes["dim_trip"] = _upsert(
        tgt,
        "dim_trip",
        ["trip_key"],
        ["code", "name", "resort_key", "price_minor", "currency", "seats", "start_date", "length_days", "active"],
        """
        SELECT s.id, s.code, s.name, r.resort_key, s.price_minor, s.currency, s.seats, s.start_date,
               s.length_days, s.active
        FROM stg_trip s JOIN star.dim_resort r ON r.name = s.resort
        """,
    )
    changes["dim_traveller"] = _upsert(
        tgt,
        "dim_traveller",
        ["traveller_key"],
        ["joined_month", "first_booking_date"],
        "SELECT traveller_key, joined_month, first_booking_date FROM stg_traveller",
    )
    changes["dim_team"] = _upsert(tgt, "dim_team", ["team_key"], ["name"], "SELECT id, name FROM stg_team")
    changes["dim_departure"] = etl_departures.load_departure_dim(tgt)
    changes["fact_booking"] = _upsert(
        tgt,
        "fact_booking",
        ["booking_id"],
        [
            "trip_key",
            "resort_key",
            "traveller_key",
            "booking_date_key",
            "travel_date_key",
            "booked_at",
            "status",
            "travellers",
            "amount_minor",
            "refund_minor",
            "revenue_minor",
            "currency",
            "confirmed_at",
            "cancelled_at",
            "departure_key",
        ],
        f"""
        SELECT s.id, t.id, r.resort_key, s.traveller_key, {_date_key("s.booking_date")},
               {_date_key("s.travel_date")}, s.booked_at, s.status, s.travellers, s.amount_minor, s.refund_minor,
               {REVENUE_SQL}, s.currency, s.confirmed_at, s.cancelled_at, s.departure_id
        FROM stg_booking s
        JOIN stg_trip t ON t.code = s.trip_code
        JOIN star.dim_resort r ON r.name = t.resort
        """,
    ) + _delete(
        tgt,
        "DELETE FROM star.fact_booking f WHERE NOT EXISTS (SELECT 1 FROM stg_booking s WHERE s.id = f.booking_id)",
    )
    changes["fact_seat_inventory"] = _upsert(
        tgt,
        "fact_seat_inventory",
        ["snapshot_date_key", "departure_id"],
        [
            "trip_key",
            "resort_key",
            "departure_date_key",
            "capacity",
            "seats_taken",
            "confirmed_travellers",
            "pending_travellers",
        ],
        f"""
        SELECT %(snap_key)s, s.id, s.trip_id, r.resort_key, {_date_key("s.date")}, s.capacity, s.seats_taken,
               s.confirmed_travellers, s.pending_travellers
        FROM stg_departure s
        JOIN stg_trip t ON t.id = s.trip_id
        JOIN star.dim_resort r ON r.name = t.resort
        """,
        snap,
    ) + _delete(
        tgt,
        """
        DELETE FROM star.fact_seat_inventory f
        WHERE f.snapshot_date_key = %(snap_key)s
          AND NOT EXISTS (SELECT 1 FROM stg_departure s WHERE s.id = f.departure_id)
        """,
        snap,
    )
    changes["fact_task_flow"] = _upsert(
        tgt,
        "fact_task_flow",
        ["team_key", "week_start_key"],
        ["created", "done", "cycle_hours_avg", "cycle_hours_median"],
        f"""
        SELECT s.team_id, {_date_key("s.week_start")}, s.created, s.done, s.cycle_hours_avg, s.cycle_hours_median
        FROM stg_task_flow s JOIN stg_team t ON t.id = s.team_id
        """,
    ) + _delete(
        tgt,
        f"""
        DELETE FROM star.fact_task_flow f
        WHERE NOT EXISTS (
            SELECT 1 FROM stg_task_flow s
            WHERE s.team_id = f.team_key AND {_date_key("s.week_start")} = f.week_start_key
        )
        """,
    )
    changes.update(etl_departures.load_departure_facts(tgt))
    return changes


def _table_counts(conn: psycopg.Connection) -> dict[str, int]:
    return {table: conn.execute(f"SELECT count(*) FROM star.{table}").fetchone()[0] for table in STAR_TABLES}


def run_etl() -> EtlResult:
    """Extract, load and log one run. Raises EtlError when a database cannot be reached
    or the load fails (the target is left as it was: one transaction)."""
    target = star_target()
    started = time.perf_counter()
    started_at = dt.datetime.now(dt.UTC)
    try:
        tgt = target_connect()
    except psycopg.OperationalError as exc:
        raise EtlError(f"cannot connect to the {target} database to load the reports: {exc}") from exc
    with tgt:
        tgt.autocommit = True
        # A session lock (held across the two transactions below, released on disconnect).
        if not tgt.execute("SELECT pg_try_advisory_lock(%s)", [LOCK_KEY]).fetchone()[0]:
            return EtlResult(status="busy", target=target)
        try:
            # The DDL commits on its own, so a failed load can still be logged in etl_run.
            with tgt.transaction():
                schema_ensure(tgt, readers=star_readers())
            with tgt.transaction():
                try:
                    src = source_connect()
                except psycopg.OperationalError as exc:
                    raise EtlError(f"cannot connect to the primary as the backup role: {exc}") from exc
                with src:
                    src.autocommit = True
                    src.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
                    src.read_only = True
                    with src.transaction():
                        extracted, snapshot_date = _stage(src, tgt)
                changes = _load(tgt, snapshot_date)
                rows = _table_counts(tgt)
                seconds = time.perf_counter() - started
                # The run log keeps 90 days (96 runs a day).
                tgt.execute("DELETE FROM star.etl_run WHERE finished_at < now() - interval '90 days'")
                run_id = tgt.execute(
                    "INSERT INTO star.etl_run (started_at, finished_at, status, target, rows, changes) "
                    "VALUES (%s, now(), 'ok', %s, %s::jsonb, %s::jsonb) RETURNING id",
                    [started_at, target, json.dumps(rows), json.dumps(changes)],
                ).fetchone()[0]
        except EtlError as exc:
            _record_failure(tgt, started_at, target, str(exc))
            raise
        except psycopg.Error as exc:
            _record_failure(tgt, started_at, target, str(exc))
            raise EtlError(f"the reports load failed: {exc}") from exc
    logger.debug("reports extract: %s rows per source", extracted)
    return EtlResult(status="ok", target=target, seconds=seconds, rows=rows, changes=changes, run_id=run_id)


def _record_failure(tgt: psycopg.Connection, started_at: dt.datetime, target: str, error: str) -> None:
    """Log a failed run in its own transaction (best effort: the schema may not exist yet)."""
    try:
        if tgt.closed or tgt.execute("SELECT to_regclass('star.etl_run')").fetchone()[0] is None:
            return
        tgt.execute(
            "INSERT INTO star.etl_run (started_at, finished_at, status, target, error) "
            "VALUES (%s, now(), 'failed', %s, %s)",
            [started_at, target, error[:2000]],
        )
    except psycopg.Error:
        logger.warning("could not record the failed reports load", exc_info=True)
