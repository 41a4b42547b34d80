"""The departures part of the star schema: departures, unserved waiting-list demand and
checklist completion, with exact figures on the known data set plus waiting-list entries
and checklist tasks written below."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator

import pytest
from django.test import Client
from django.utils import timezone

from reports import etl, selectors_departures
from reports.tests.testdata import KnownData, known_data_create, owner_connect, star_drop

D = dt.date


@pytest.fixture
def star(committed_db) -> Iterator[None]:
    star_drop()
    yield
    star_drop()


@pytest.fixture
def known(star) -> KnownData:
    """The known data set, plus on SKI-1 (2025-06-01) four waiting-list entries: one booked
    through an accepted offer (2 travellers), one offered and expired (1), one still
    waiting (3), one withdrawn (1); and three checklist tasks: Alpha done, Alpha to do
    (due 2025-05-20), Bravo deleted."""
    from bookings.models import Booking, Departure, WaitlistEntry
    from checklists.models import ChecklistTask
    from taskforge.dbcontext import DbContext, db_context

    data = known_data_create()
    now = timezone.now()
    with db_context(DbContext(user_id=str(data.admin.pk), role="system", request_id="reports-departures")):
        ski = Departure.objects.get(trip__code="SKI-1")
        booking = Booking.objects.filter(departure=ski, status="confirmed").first()
        entries = [
            (data.traveller1, 2, "accepted", booking),
            (data.traveller2, 1, "expired", None),
            (data.traveller1, 3, "waiting", None),
            (data.traveller2, 1, "withdrawn", None),
        ]
        for user, travellers, status, booked in entries:
            WaitlistEntry.objects.create(
                user=user,
                departure=ski,
                travellers=travellers,
                status=status,
                created_at=dt.datetime(2025, 5, 2, 9, tzinfo=dt.UTC),
                offered_at=now if status in ("accepted", "expired") else None,
                offer_expires_at=now if status in ("accepted", "expired") else None,
                offer_unit_price_minor=100_000 if status in ("accepted", "expired") else None,
                booking=booked,
                closed_at=now if status != "waiting" else None,
            )
        for team, status, deleted in (
            (data.alpha, "done", False),
            (data.alpha, "todo", False),
            (data.bravo, "todo", True),
        ):
            ChecklistTask.objects.create(
                departure=ski, item_ref=ChecklistTask.objects.count() + 1, task_id=uuid.uuid4(), team_id=team.pk,
                title=f"item {status}", due_date=D(2025, 5, 20), status=status, deleted=deleted,
            )  # fmt: skip
    return data


def star_rows(sql: str) -> list[tuple]:
    with owner_connect() as conn:
        return conn.execute(sql).fetchall()


def test_etl_loads_departures_waitlist_and_checklist_tasks(known: KnownData) -> None:
    result = etl.run_etl()
    assert result.rows["dim_departure"] == 3
    assert result.rows["fact_waitlist"] == 4
    assert result.rows["fact_checklist_task"] == 3
    # Every booking points at its departure.
    assert star_rows("SELECT count(*) FROM star.fact_booking WHERE departure_key IS NULL") == [(0,)]

    rows = selectors_departures.departure_rows(D(2025, 5, 1), D(2025, 7, 31))
    assert [
        (r.code, r.departure, r.status, r.capacity, r.booked, r.waitlist_entries, r.unserved_entries,
         r.unserved_travellers, r.checklist_tasks, r.checklist_done, r.checklist_percent)
        for r in rows
    ] == [
        ("SKI-1", D(2025, 6, 1), "open", 10, 3, 4, 3, 5, 2, 1, 50),
        ("SEA-1", D(2025, 6, 15), "open", 20, 3, 0, 0, 0, 0, 0, None),
        ("SKI-2", D(2025, 7, 1), "open", 8, 0, 0, 0, 0, 0, 0, None),
    ]  # fmt: skip
    # Outside the range: nothing.
    assert selectors_departures.departure_rows(D(2025, 8, 1), D(2025, 8, 31)) == []


def test_unserved_demand_counts_every_entry_never_booked(known: KnownData) -> None:
    etl.run_etl()
    demand = selectors_departures.waitlist_demand_rows(D(2025, 6, 1), D(2025, 6, 30))
    assert [
        (d.resort, d.entries, d.travellers, d.offered, d.served_travellers, d.unserved_entries, d.unserved_travellers)
        for d in demand
    ] == [("Alps", 4, 7, 2, 2, 3, 5)]
    assert selectors_departures.waitlist_demand_rows(D(2025, 7, 1), D(2025, 7, 31)) == []


def test_checklist_completion_per_team_only_for_the_teams_asked(known: KnownData) -> None:
    etl.run_etl()
    rows = selectors_departures.checklist_rows(
        [known.alpha.pk, known.bravo.pk], D(2025, 5, 1), D(2025, 5, 31), today=D(2025, 5, 25)
    )
    # Bravo's only task was deleted: Bravo has no row.
    assert [(r.team, r.tasks, r.done, r.overdue, r.percent) for r in rows] == [("Alpha", 2, 1, 1, 50)]
    # A caller who may see only Bravo sees nothing of Alpha's.
    assert (
        selectors_departures.checklist_rows([known.bravo.pk], D(2025, 5, 1), D(2025, 5, 31), today=D(2025, 5, 25)) == []
    )
    assert selectors_departures.checklist_rows([], D(2025, 5, 1), D(2025, 5, 31), today=D(2025, 5, 25)) == []


def test_the_departures_facts_follow_the_source_and_a_second_run_changes_nothing(known: KnownData) -> None:
    from bookings.models import WaitlistEntry
    from checklists.models import ChecklistTask
    from taskforge.dbcontext import DbContext, db_context

    etl.run_etl()
    again = etl.run_etl()
    assert sum(again.changes.values()) == 0, again.changes
    with db_context(DbContext(user_id=str(known.admin.pk), role="system", request_id="reports-departures")):
        WaitlistEntry.objects.filter(status="withdrawn").delete()
        ChecklistTask.objects.filter(status="todo", deleted=False).update(status="done")
    result = etl.run_etl()
    assert result.changes["fact_waitlist"] == 1  # one deleted
    assert result.changes["fact_checklist_task"] == 1  # one updated
    (ski,) = [r for r in selectors_departures.departure_rows(D(2025, 6, 1), D(2025, 6, 1))]
    assert (ski.unserved_entries, ski.unserved_travellers, ski.checklist_done, ski.checklist_percent) == (2, 4, 2, 100)


def test_the_seat_report_shows_unserved_demand_and_checklist_progress(known: KnownData) -> None:
    etl.run_etl()
    client = Client()
    client.force_login(known.staff_alpha)
    page = client.get("/reports/seats/?start=2025-06-01&end=2025-06-30").content.decode()
    assert 'data-unserved="5"' in page  # 3 + 1 + 1 travellers never booked
    assert 'data-departure="SKI-1-2025-06-01"' in page and "1 of 2 done (50%)" in page
    assert 'data-resort="Alps"' in page
    client.force_login(known.traveller1)
    assert client.get("/reports/seats/?start=2025-06-01&end=2025-06-30").status_code in (403, 404)
