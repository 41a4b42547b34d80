"""The departures part of the reports ETL: departures, waiting-list demand, checklist tasks.

Extracted in the same snapshot as the rest (reports/etl.py stages every entry of
EXTRACTS), merged after the dimensions they refer to (trips, resorts, teams) and before
fact_booking (whose departure_key points at dim_departure):

* `dim_departure`: upserted (a deleted departure stays as history, like every dimension);
* `fact_waitlist`: one row per entry; `booked` is true only for an entry that accepted an
  offer, so "unserved demand" is every entry with booked = false (still waiting, offered
  and not yet accepted, declined, expired or withdrawn);
* `fact_checklist_task`: one row per checklist task, with the task status as the
  checklist keeps it (checklists.ChecklistTask.status).
"""

from __future__ import annotations

import psycopg

from reports.etl_merge import date_key, delete_rows, upsert

EXTRACTS: dict[str, tuple[str, str]] = {
    "departure_dim": (
        "id bigint, trip_id bigint, date date, capacity integer, price_minor bigint, status text, "
        "cancelled_at timestamptz",
        """
        SELECT d.id, d.trip_id, d.date, d.capacity, COALESCE(d.price_minor, t.price_minor), d.status, d.cancelled_at
        FROM bookings_departure d JOIN bookings_trip t ON t.id = d.trip_id
        """,
    ),
    "waitlist": (
        "id bigint, departure_id bigint, joined_date date, travellers integer, status text, offered boolean, "
        "booked boolean, closed_at timestamptz",
        """
        SELECT w.id, w.departure_id, (w.created_at AT TIME ZONE 'UTC')::date, w.travellers, w.status,
               w.offered_at IS NOT NULL, w.booking_id IS NOT NULL, w.closed_at
        FROM bookings_waitlist_entry w
        """,
    ),
    "checklist_task": (
        "id bigint, departure_id bigint, team_id bigint, due_date date, title text, status text, deleted boolean",
        "SELECT c.id, c.departure_id, c.team_id, c.due_date, c.title, c.status, c.deleted FROM checklists_task c",
    ),
}

# Dates the departures facts refer to (dim_date must cover them).
DATES_SQL = (
    "SELECT date FROM stg_departure_dim UNION ALL SELECT joined_date FROM stg_waitlist "
    "UNION ALL SELECT due_date FROM stg_checklist_task"
)


def load_departure_dim(tgt: psycopg.Connection) -> int:
    """Merge dim_departure (after dim_trip and dim_resort)."""
    return upsert(
        tgt,
        "dim_departure",
        ["departure_key"],
        ["trip_key", "resort_key", "departure_date_key", "capacity", "price_minor", "status", "cancelled_at"],
        f"""
        SELECT s.id, s.trip_id, r.resort_key, {date_key("s.date")}, s.capacity, s.price_minor, s.status,
               s.cancelled_at
        FROM stg_departure_dim s
        JOIN stg_trip t ON t.id = s.trip_id
        JOIN star.dim_resort r ON r.name = t.resort
        """,
    )


def load_departure_facts(tgt: psycopg.Connection) -> dict[str, int]:
    """Merge fact_waitlist and fact_checklist_task (after dim_departure and dim_team).
    Returns rows changed per table."""
    changes: dict[str, int] = {}
    changes["fact_waitlist"] = upsert(
        tgt,
        "fact_waitlist",
        ["entry_id"],
        ["departure_key", "trip_key", "resort_key", "joined_date_key", "travellers", "status", "offered", "booked",
         "closed_at"],
        f"""
        SELECT w.id, d.departure_key, d.trip_key, d.resort_key, {date_key("w.joined_date")}, w.travellers, w.status,
               w.offered, w.booked, w.closed_at
        FROM stg_waitlist w JOIN star.dim_departure d ON d.departure_key = w.departure_id
        """,
    ) + delete_rows(
        tgt, "DELETE FROM star.fact_waitlist f WHERE NOT EXISTS (SELECT 1 FROM stg_waitlist s WHERE s.id = f.entry_id)"
    )  # fmt: skip
    changes["fact_checklist_task"] = upsert(
        tgt,
        "fact_checklist_task",
        ["checklist_task_id"],
        ["departure_key", "team_key", "due_date_key", "title", "status", "done", "deleted"],
        f"""
        SELECT c.id, c.departure_id, c.team_id, {date_key("c.due_date")}, c.title, c.status, c.status = 'done',
               c.deleted
        FROM stg_checklist_task c
        JOIN star.dim_departure d ON d.departure_key = c.departure_id
        JOIN star.dim_team t ON t.team_key = c.team_id
        """,
    ) + delete_rows(
        tgt,
        "DELETE FROM star.fact_checklist_task f "
        "WHERE NOT EXISTS (SELECT 1 FROM stg_checklist_task s WHERE s.id = f.checklist_task_id)",
    )
    return changes
