"""The star schema, as idempotent DDL that the ETL runs before every load.

Dimensions: date, resort, trip, traveller (a pseudonym only: no user id, no email, no
name) and team. Facts:

* `fact_booking`: one row per booking (amount, travellers, status, dates, revenue);
* `fact_seat_inventory`: a periodic snapshot, one row per departure per day the ETL ran
  (capacity, seats taken, confirmed and pending travellers);
* `fact_task_flow`: per team per ISO week (Monday start): tasks created, tasks done and
  the cycle time (created -> done) of the tasks done that week;
* `dim_departure`: one row per departure of a trip (date, capacity, effective price,
  status); `fact_booking.departure_key` points at it;
* `fact_waitlist`: one row per waiting-list entry (travellers, status, whether it was
  ever offered and ever booked). Unserved demand = the entries never booked;
* `fact_checklist_task`: one row per departure checklist task (team, due date, status,
  done): checklist completion per departure and per team.

`etl_run` logs every load. Changing a table later: add `ALTER TABLE ... ADD COLUMN IF NOT
EXISTS ...` below (never edit a CREATE TABLE in place: existing installations keep theirs).
"""

from __future__ import annotations

from collections.abc import Iterable

import psycopg
from psycopg import sql

SCHEMA = "star"

DDL = """
CREATE SCHEMA IF NOT EXISTS star;

CREATE TABLE IF NOT EXISTS star.dim_date (
    date_key     integer PRIMARY KEY,            -- yyyymmdd
    date         date NOT NULL UNIQUE,
    year         smallint NOT NULL,
    quarter      smallint NOT NULL,
    month        smallint NOT NULL,
    day          smallint NOT NULL,
    month_start  date NOT NULL,
    iso_year     smallint NOT NULL,
    iso_week     smallint NOT NULL,
    week_start   date NOT NULL,                  -- the Monday of its ISO week
    day_of_week  smallint NOT NULL,              -- 1 = Monday .. 7 = Sunday
    is_weekend   boolean NOT NULL
);

CREATE TABLE IF NOT EXISTS star.dim_resort (
    resort_key   serial PRIMARY KEY,
    name         text NOT NULL UNIQUE
);

CREATE TABLE IF NOT EXISTS star.dim_trip (
    trip_key     bigint PRIMARY KEY,             -- bookings_trip.id
    code         text NOT NULL,
    name         text NOT NULL,
    resort_key   integer NOT NULL REFERENCES star.dim_resort,
    price_minor  bigint NOT NULL,
    currency     char(3) NOT NULL,
    seats        integer NOT NULL,
    start_date   date NOT NULL,
    length_days  smallint NOT NULL,
    active       boolean NOT NULL
);

CREATE TABLE IF NOT EXISTS star.dim_traveller (
    traveller_key      text PRIMARY KEY,         -- keyed HMAC of the user id (pseudonym)
    joined_month       date,
    first_booking_date date
);

CREATE TABLE IF NOT EXISTS star.dim_team (
    team_key     bigint PRIMARY KEY,             -- accounts_team.id
    name         text NOT NULL
);

CREATE TABLE IF NOT EXISTS star.fact_booking (
    booking_id        bigint PRIMARY KEY,        -- degenerate dimension
    trip_key          bigint NOT NULL REFERENCES star.dim_trip,
    resort_key        integer NOT NULL REFERENCES star.dim_resort,
    traveller_key     text NOT NULL REFERENCES star.dim_traveller,
    booking_date_key  integer NOT NULL REFERENCES star.dim_date,
    travel_date_key   integer NOT NULL REFERENCES star.dim_date,
    booked_at         timestamptz NOT NULL,
    status            text NOT NULL,
    travellers        integer NOT NULL,
    amount_minor      bigint NOT NULL,           -- the booking's total
    refund_minor      bigint NOT NULL,
    revenue_minor     bigint NOT NULL,           -- see etl.REVENUE_SQL
    currency          char(3) NOT NULL,
    confirmed_at      timestamptz,
    cancelled_at      timestamptz
);
CREATE INDEX IF NOT EXISTS fact_booking_booking_date_idx ON star.fact_booking (booking_date_key);
CREATE INDEX IF NOT EXISTS fact_booking_resort_idx ON star.fact_booking (resort_key, booking_date_key);

CREATE TABLE IF NOT EXISTS star.fact_seat_inventory (
    snapshot_date_key    integer NOT NULL REFERENCES star.dim_date,
    departure_id         bigint NOT NULL,        -- bookings_departure.id
    trip_key             bigint NOT NULL REFERENCES star.dim_trip,
    resort_key           integer NOT NULL REFERENCES star.dim_resort,
    departure_date_key   integer NOT NULL REFERENCES star.dim_date,
    capacity             integer NOT NULL,
    seats_taken          integer NOT NULL,
    confirmed_travellers integer NOT NULL,
    pending_travellers   integer NOT NULL,
    PRIMARY KEY (snapshot_date_key, departure_id)
);
CREATE INDEX IF NOT EXISTS fact_seat_inventory_departure_idx
    ON star.fact_seat_inventory (snapshot_date_key, departure_date_key);

CREATE TABLE IF NOT EXISTS star.fact_task_flow (
    team_key            bigint NOT NULL REFERENCES star.dim_team,
    week_start_key      integer NOT NULL REFERENCES star.dim_date,
    created             integer NOT NULL,
    done                integer NOT NULL,
    cycle_hours_avg     numeric(12, 2),          -- of the tasks done that week; NULL when none
    cycle_hours_median  numeric(12, 2),
    PRIMARY KEY (team_key, week_start_key)
);

CREATE TABLE IF NOT EXISTS star.dim_departure (
    departure_key       bigint PRIMARY KEY,      -- bookings_departure.id
    trip_key            bigint NOT NULL REFERENCES star.dim_trip,
    resort_key          integer NOT NULL REFERENCES star.dim_resort,
    departure_date_key  integer NOT NULL REFERENCES star.dim_date,
    capacity            integer NOT NULL,
    price_minor         bigint NOT NULL,         -- the departure's price, else the trip's
    status              text NOT NULL,           -- open | closed | cancelled
    cancelled_at        timestamptz
);

ALTER TABLE star.fact_booking ADD COLUMN IF NOT EXISTS departure_key bigint REFERENCES star.dim_departure;
CREATE INDEX IF NOT EXISTS fact_booking_departure_idx ON star.fact_booking (departure_key);

CREATE TABLE IF NOT EXISTS star.fact_waitlist (
    entry_id           bigint PRIMARY KEY,       -- degenerate dimension
    departure_key      bigint NOT NULL REFERENCES star.dim_departure,
    trip_key           bigint NOT NULL REFERENCES star.dim_trip,
    resort_key         integer NOT NULL REFERENCES star.dim_resort,
    joined_date_key    integer NOT NULL REFERENCES star.dim_date,
    travellers         integer NOT NULL,
    status             text NOT NULL,            -- waiting | offered | accepted | declined | expired | withdrawn
    offered            boolean NOT NULL,         -- ever received an offer
    booked             boolean NOT NULL,         -- accepted an offer (served); false = unserved demand
    closed_at          timestamptz
);
CREATE INDEX IF NOT EXISTS fact_waitlist_departure_idx ON star.fact_waitlist (departure_key);

CREATE TABLE IF NOT EXISTS star.fact_checklist_task (
    checklist_task_id  bigint PRIMARY KEY,       -- checklists_task.id
    departure_key      bigint NOT NULL REFERENCES star.dim_departure,
    team_key           bigint NOT NULL REFERENCES star.dim_team,
    due_date_key       integer NOT NULL REFERENCES star.dim_date,
    title              text NOT NULL,
    status             text NOT NULL,
    done               boolean NOT NULL,
    deleted            boolean NOT NULL
);
CREATE INDEX IF NOT EXISTS fact_checklist_task_departure_idx ON star.fact_checklist_task (departure_key);

CREATE TABLE IF NOT EXISTS star.etl_run (
    id           bigserial PRIMARY KEY,
    started_at   timestamptz NOT NULL,
    finished_at  timestamptz NOT NULL,
    status       text NOT NULL,                  -- ok | failed
    target       text NOT NULL,                  -- default | reports
    rows         jsonb NOT NULL DEFAULT '{}',    -- rows per table after the load
    changes      jsonb NOT NULL DEFAULT '{}',    -- rows inserted, updated or deleted per table
    error        text NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS etl_run_finished_idx ON star.etl_run (status, finished_at DESC);
"""

STAR_TABLES = (
    "dim_date",
    "dim_resort",
    "dim_trip",
    "dim_traveller",
    "dim_team",
    "fact_booking",
    "fact_seat_inventory",
    "fact_task_flow",
    "dim_departure",
    "fact_waitlist",
    "fact_checklist_task",
)


def schema_ensure(conn: psycopg.Connection, *, readers: Iterable[str] = ()) -> None:
    """Create the schema and its tables if missing; grant read access to `readers`.

    Runs inside the caller's transaction (the ETL holds its advisory lock, so two loads
    never race on CREATE). Roles that do not exist on this server are skipped.
    """
    conn.execute(DDL)
    for role in readers:
        if not role or conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone() is None:
            continue
        ident = sql.Identifier(role)
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA star TO {}").format(ident))
        conn.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA star TO {}").format(ident))
        # pg_dump (the backup role) reads sequence positions too.
        conn.execute(sql.SQL("GRANT SELECT ON ALL SEQUENCES IN SCHEMA star TO {}").format(ident))
