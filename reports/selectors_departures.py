"""Reads of the departures part of the star schema: departures with their bookings,
waiting-list demand and checklist completion (reports/etl_departures.py loads them).

Same rules as reports/selectors.py: every query goes through its `_query` (replica reads
on the analytics alias; StarUnavailable when the schema was never loaded or cannot be read).
Checklist completion is per team and only for the teams the caller passes (the page
passes `selectors.visible_teams(user)`, like task flow).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from reports.selectors import _query

DEPARTURE_ROW_CAP = 1000


@dataclass(frozen=True)
class DepartureRow:
    """One departure: seats sold, demand left on its waiting list, checklist progress."""

    code: str
    trip: str
    resort: str
    departure: dt.date
    status: str
    capacity: int
    booked: int  # travellers of the bookings not cancelled
    waitlist_entries: int  # every entry ever made
    unserved_entries: int  # entries never booked
    unserved_travellers: int
    checklist_tasks: int  # not deleted
    checklist_done: int

    @property
    def checklist_percent(self) -> int | None:
        return round(100 * self.checklist_done / self.checklist_tasks) if self.checklist_tasks else None


def departure_rows(start: dt.date, end: dt.date, *, limit: int = DEPARTURE_ROW_CAP) -> list[DepartureRow]:
    """Departures whose date is within start..end inclusive, soonest first."""
    rows = _query(
        """
        SELECT t.code, t.name AS trip, r.name AS resort, dd.date AS departure, d.status, d.capacity,
               COALESCE(b.booked, 0) AS booked,
               COALESCE(w.entries, 0) AS waitlist_entries,
               COALESCE(w.unserved, 0) AS unserved_entries,
               COALESCE(w.unserved_travellers, 0) AS unserved_travellers,
               COALESCE(c.tasks, 0) AS checklist_tasks,
               COALESCE(c.done, 0) AS checklist_done
        FROM star.dim_departure d
        JOIN star.dim_trip t ON t.trip_key = d.trip_key
        JOIN star.dim_resort r ON r.resort_key = d.resort_key
        JOIN star.dim_date dd ON dd.date_key = d.departure_date_key
        LEFT JOIN (
            SELECT departure_key, sum(travellers) FILTER (WHERE status <> 'cancelled') AS booked
            FROM star.fact_booking GROUP BY 1
        ) b ON b.departure_key = d.departure_key
        LEFT JOIN (
            SELECT departure_key, count(*) AS entries, count(*) FILTER (WHERE NOT booked) AS unserved,
                   sum(travellers) FILTER (WHERE NOT booked) AS unserved_travellers
            FROM star.fact_waitlist GROUP BY 1
        ) w ON w.departure_key = d.departure_key
        LEFT JOIN (
            SELECT departure_key, count(*) AS tasks, count(*) FILTER (WHERE done) AS done
            FROM star.fact_checklist_task WHERE NOT deleted GROUP BY 1
        ) c ON c.departure_key = d.departure_key
        WHERE dd.date BETWEEN %(start)s AND %(end)s
        ORDER BY dd.date, t.code
        LIMIT %(limit)s
        """,
        {"start": start, "end": end, "limit": limit},
    )
    return [DepartureRow(**row) for row in rows]


@dataclass(frozen=True)
class DemandRow:
    """Waiting-list demand of one resort for departures in the range."""

    resort: str
    entries: int
    travellers: int
    offered: int  # entries that ever received an offer
    served_travellers: int  # booked through an accepted offer
    unserved_entries: int
    unserved_travellers: int


def waitlist_demand_rows(start: dt.date, end: dt.date) -> list[DemandRow]:
    """Per resort, the waiting-list entries of departures dated start..end: how much demand
    was served (an accepted offer) and how much never was. Most unserved first."""
    rows = _query(
        """
        SELECT r.name AS resort, count(*) AS entries, sum(w.travellers) AS travellers,
               count(*) FILTER (WHERE w.offered) AS offered,
               COALESCE(sum(w.travellers) FILTER (WHERE w.booked), 0) AS served_travellers,
               count(*) FILTER (WHERE NOT w.booked) AS unserved_entries,
               COALESCE(sum(w.travellers) FILTER (WHERE NOT w.booked), 0) AS unserved_travellers
        FROM star.fact_waitlist w
        JOIN star.dim_departure d ON d.departure_key = w.departure_key
        JOIN star.dim_resort r ON r.resort_key = w.resort_key
        JOIN star.dim_date dd ON dd.date_key = d.departure_date_key
        WHERE dd.date BETWEEN %(start)s AND %(end)s
        GROUP BY 1 ORDER BY unserved_travellers DESC, 1
        """,
        {"start": start, "end": end},
    )
    return [DemandRow(**row) for row in rows]


@dataclass(frozen=True)
class ChecklistRow:
    """One team's checklist tasks due in the range."""

    team_id: int
    team: str
    tasks: int  # not deleted
    done: int
    overdue: int  # not done and due before `today`

    @property
    def percent(self) -> int | None:
        return round(100 * self.done / self.tasks) if self.tasks else None


def checklist_rows(team_ids: list[int], start: dt.date, end: dt.date, *, today: dt.date) -> list[ChecklistRow]:
    """Checklist completion per team, for the tasks due start..end inclusive (deleted tasks
    left out), only for `team_ids`."""
    if not team_ids:
        return []
    rows = _query(
        """
        SELECT c.team_key AS team_id, tm.name AS team, count(*) AS tasks,
               count(*) FILTER (WHERE c.done) AS done,
               count(*) FILTER (WHERE NOT c.done AND dd.date < %(today)s) AS overdue
        FROM star.fact_checklist_task c
        JOIN star.dim_team tm ON tm.team_key = c.team_key
        JOIN star.dim_date dd ON dd.date_key = c.due_date_key
        WHERE NOT c.deleted AND c.team_key = ANY(%(teams)s) AND dd.date BETWEEN %(start)s AND %(end)s
        GROUP BY 1, 2 ORDER BY 2, 1
        """,
        {"teams": list(team_ids), "start": start, "end": end, "today": today},
    )
    return [ChecklistRow(**row) for row in rows]
