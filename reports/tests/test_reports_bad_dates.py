"""Report filters with extreme dates are a 400 with a message, never a 500 (security review finding 7)."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

PAGES = (
    "/reports/revenue/daily/",
    "/reports/revenue/monthly/",
    "/reports/resorts/",
    "/reports/seats/",
    "/reports/tasks/",
)
EXPORTS = tuple(f"{page}export.csv" for page in PAGES)
EXTREMES = (
    "end=9999-12-31",
    "start=9999-12-01",
    "start=9999-12-01&end=9999-12-31",
    "end=0001-01-01",
    "start=0001-01-01",
    "start=0001-01-01&end=0001-01-10",
    "start=2025-01-01&end=9999-12-31",
)


@pytest.fixture
def staff(make_user) -> Client:
    client = Client()
    client.force_login(make_user("admin"))  # every report, the task flow included
    return client


@pytest.mark.parametrize("query", EXTREMES)
@pytest.mark.parametrize("url", PAGES + EXPORTS)
def test_extreme_dates_are_refused_with_a_message(staff: Client, url: str, query: str) -> None:
    response = staff.get(f"{url}?{query}")
    assert response.status_code == 400, (url, query, response.status_code)
    assert "Enter a date between 1900 and 2999." in response.content.decode()


@pytest.mark.parametrize("url", PAGES)
def test_the_last_allowed_dates_still_render(staff: Client, url: str) -> None:
    response = staff.get(f"{url}?start=2999-12-01&end=2999-12-31")
    assert response.status_code == 200
    early = staff.get(f"{url}?start=1900-01-01&end=1900-01-31")
    assert early.status_code == 200


def test_a_huge_team_id_is_a_400_not_a_500(staff: Client) -> None:
    response = staff.get("/reports/tasks/?team=99999999999999999999999")
    assert response.status_code == 400
    assert "Ensure this value is less than or equal to" in response.content.decode()
