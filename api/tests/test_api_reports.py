"""The reports' data as JSON: the figures of the known data set (reports/tests/testdata.py,
the same the report pages show), who may read which report, bad ranges and an unbuilt star."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from rest_framework.test import APIClient

from api.tests.conftest import bearer
from reports import etl
from reports.tests.testdata import KnownData, known_data_create, star_drop
from taskforge.dbcontext import context_for_system, db_context
from taskforge.testing.personas import person_create

RANGE_2025 = "start=2025-01-01&end=2025-12-31"
READER_REPORTS = (
    "/api/v1/reports/revenue/daily/?start=2025-03-01&end=2025-04-30",
    f"/api/v1/reports/revenue/monthly/?{RANGE_2025}",
    f"/api/v1/reports/resorts/?{RANGE_2025}",
    f"/api/v1/reports/seats/?{RANGE_2025}",
)
TASKS = "/api/v1/reports/tasks/?start=2025-03-01&end=2025-03-31"


@pytest.fixture
def loaded(committed_db, settings) -> Iterator[KnownData]:
    settings.API_TOKEN_RATE = settings.API_IP_RATE = "100000/minute"
    star_drop()
    data = known_data_create()
    assert etl.run_etl().status == "ok"
    yield data
    star_drop()


def _token(user) -> str:
    from accounts.services.api_tokens import api_token_create

    with db_context(context_for_system("test")):
        return api_token_create(user=user, name="reports", scope="read").secret


def test_reports_readers_get_the_figures_of_the_report_pages(loaded: KnownData) -> None:
    api, reader = APIClient(), _token(loaded.staff_alpha)
    daily = api.get(READER_REPORTS[0], **bearer(reader))
    assert daily.status_code == 200, daily.content
    assert daily.json()["period"] == "day" and daily.json()["start"] == "2025-03-01"
    assert [(r["bucket"], r["currency"], r["bookings"], r["revenue_minor"]) for r in daily.json()["rows"]] == [
        ("2025-03-03", "GBP", 2, 200_000),
        ("2025-03-04", "EUR", 1, 150_000),
        ("2025-04-10", "GBP", 1, 80_000),
        ("2025-04-11", "GBP", 1, 0),
    ]
    monthly = api.get(READER_REPORTS[1], **bearer(reader)).json()
    assert [(r["bucket"], r["currency"], r["cancelled"]) for r in monthly["rows"]] == [
        ("2025-03-01", "EUR", 0),
        ("2025-03-01", "GBP", 0),
        ("2025-04-01", "GBP", 2),
    ]
    resorts = api.get(READER_REPORTS[2], **bearer(reader)).json()["rows"]
    assert [(r["resort"], r["currency"], r["bookings"], r["customers"], r["revenue_minor"]) for r in resorts] == [
        ("Alps", "GBP", 2, 2, 280_000),
        ("Riviera", "EUR", 1, 1, 150_000),
    ]
    seats = api.get(READER_REPORTS[3], **bearer(reader)).json()
    assert seats["capped"] is False
    assert [(r["departure"], r["trip_code"], r["capacity"], r["seats_taken"], r["utilisation_percent"])
            for r in seats["rows"]] == [
        ("2025-06-01", "SKI-1", 10, 3, 30),
        ("2025-06-15", "SEA-1", 20, 3, 15),
        ("2025-07-01", "SKI-2", 8, 0, 0),
    ]  # fmt: skip


def test_task_flow_people_see_their_own_teams_and_admins_all(loaded: KnownData) -> None:
    api = APIClient()
    mine = api.get(TASKS, **bearer(_token(loaded.staff_alpha))).json()
    assert [(t["team"], t["created"], t["done"], t["cycle_hours_avg"]) for t in mine["teams"]] == [
        ("Alpha", 4, 3, "36.00")
    ]
    assert {w["team_id"] for w in mine["weeks"]} == {loaded.alpha.pk}
    # Another team is not theirs to see.
    assert api.get(f"{TASKS}&team={loaded.bravo.pk}", **bearer(_token(loaded.staff_alpha))).status_code == 404
    every = api.get(TASKS, **bearer(_token(loaded.admin))).json()
    assert {t["team"] for t in every["teams"]} == {"Alpha", "Bravo"}
    bravo = api.get(f"{TASKS}&team={loaded.bravo.pk}", **bearer(_token(loaded.admin))).json()
    assert [t["team"] for t in bravo["teams"]] == ["Bravo"]


def test_who_may_read_which_report(loaded: KnownData) -> None:
    api = APIClient()
    traveller = _token(loaded.traveller1)
    loner = _token(loaded.staff_none)  # a reports reader in no team
    with db_context(context_for_system("test")):
        desk = _token(person_create("booking_desk", "reports-desk@example.com"))
    for path in READER_REPORTS:
        assert api.get(path).status_code == 401, path
        assert api.get(path, **bearer(traveller)).status_code == 404, path
        assert api.get(path, **bearer(desk)).status_code == 404, path
        assert api.get(path, **bearer(loner)).status_code == 200, path
        assert api.get(path, **bearer(_token(loaded.admin))).status_code == 200, path
    assert api.get(TASKS, **bearer(loner)).status_code == 404
    assert api.get(TASKS, **bearer(traveller)).status_code == 404
    assert api.get("/api/v1/reports/revenue/weekly/", **bearer(loner)).status_code == 404


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("start=2025-02-01&end=2025-01-01", "non_field_errors"),
        ("start=someday", "start"),
        ("start=0001-01-01", "start"),
        ("start=2020-01-01&end=2025-01-01", "non_field_errors"),  # too long a range for days
    ],
)
def test_bad_ranges_are_a_400_with_field_errors(committed_db, settings, query: str, field: str) -> None:
    settings.API_TOKEN_RATE = settings.API_IP_RATE = "100000/minute"
    with db_context(context_for_system("test")):
        reader = _token(person_create("reports_reader", "reports-bad@example.com"))
    response = APIClient().get(f"/api/v1/reports/revenue/daily/?{query}", **bearer(reader))
    assert response.status_code == 400 and response["Content-Type"] == "application/problem+json"
    assert field in {error["field"] for error in response.json()["errors"]}


def test_an_unbuilt_star_is_a_503_with_retry_after(committed_db, settings) -> None:
    settings.API_TOKEN_RATE = settings.API_IP_RATE = "100000/minute"
    star_drop()
    with db_context(context_for_system("test")):
        reader = _token(person_create("reports_reader", "reports-early@example.com"))
    response = APIClient().get("/api/v1/reports/seats/", **bearer(reader))
    assert response.status_code == 503 and response["Retry-After"]
    assert "not been built" in response.json()["detail"]
