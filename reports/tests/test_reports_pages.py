"""Report pages and CSV exports: who may see them, what they show, and bad input."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pytest
from django.test import Client
from django.urls import resolve

from accounts.models import User
from reports import etl
from reports.tests.testdata import KnownData, known_data_create, star_drop
from taskforge.testing.personas import person_create

RANGE_2025 = "start=2025-01-01&end=2025-12-31"
PAGES = [
    "/reports/revenue/daily/?start=2025-03-01&end=2025-04-30",
    f"/reports/revenue/monthly/?{RANGE_2025}",
    f"/reports/resorts/?{RANGE_2025}",
    f"/reports/seats/?{RANGE_2025}",
    "/reports/tasks/?start=2025-03-01&end=2025-03-31",
    "/reports/",
]
EXPORTS = [
    "/reports/revenue/daily/export.csv?start=2025-03-01&end=2025-04-30",
    f"/reports/revenue/monthly/export.csv?{RANGE_2025}",
    f"/reports/resorts/export.csv?{RANGE_2025}",
    f"/reports/seats/export.csv?{RANGE_2025}",
    "/reports/tasks/export.csv?start=2025-03-01&end=2025-03-31",
]


@pytest.fixture
def loaded(committed_db) -> Iterator[KnownData]:
    """The known data set, loaded into a fresh star schema."""
    star_drop()
    data = known_data_create()
    assert etl.run_etl().status == "ok"
    yield data
    star_drop()


def as_user(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def rows_of(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_every_report_and_export_from_both_sides_of_the_rule(loaded: KnownData) -> None:
    anonymous, traveller = Client(), as_user(loaded.traveller1)
    staff, admin = as_user(loaded.staff_alpha), as_user(loaded.admin)
    for url in PAGES + EXPORTS:
        response = anonymous.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/login/?next=/reports/"), url
        assert traveller.get(url).status_code == 404, url
        for client in (staff, admin):
            response = client.get(url)
            assert response.status_code == 200, url
            if url in EXPORTS:
                assert response["Content-Type"] == "text/csv; charset=utf-8"
                assert response["Content-Disposition"].startswith('attachment; filename="')
                assert len(rows_of(response)) >= 2, url  # header and data
            else:
                assert b"<svg" in response.content or url == "/reports/", url


def test_one_view_per_report_answers_the_page_the_htmx_region_or_the_csv(loaded: KnownData) -> None:
    staff = as_user(loaded.staff_alpha)
    for page_url, export_url in zip(PAGES[:-1], EXPORTS, strict=True):
        page_path, export_path = page_url.split("?")[0], export_url.split("?")[0]
        assert resolve(page_path).func is resolve(export_path).func, page_url
        assert resolve(export_path).kwargs["export"] == "csv" and "export" not in resolve(page_path).kwargs
        region = staff.get(page_url, HTTP_HX_REQUEST="true")
        html = region.content.decode()
        assert region.status_code == 200 and "<html" not in html and 'class="mainnav' not in html, page_url
        assert '<form class="filters"' in html and "<svg" in html and "<table" in html, page_url
        assert "<html" in staff.get(page_url).content.decode()
    refused = staff.get("/reports/seats/?end=not-a-date", HTTP_HX_REQUEST="true")
    assert refused.status_code == 400 and "<html" not in refused.content.decode()
    assert "Enter a valid date" in refused.content.decode()


def test_revenue_pages_show_the_figures(loaded: KnownData) -> None:
    staff = as_user(loaded.staff_alpha)
    page = staff.get("/reports/revenue/daily/?start=2025-03-01&end=2025-04-30").content.decode()
    assert 'data-currency="GBP"' in page and 'data-revenue="280000"' in page  # £2,000 + £800
    assert 'data-revenue="150000"' in page and "€1,500.00" in page
    assert "Revenue per day in GBP" in page  # the chart is in the largest currency by default
    eur = staff.get("/reports/revenue/daily/?start=2025-03-01&end=2025-04-30&currency=EUR").content.decode()
    assert "Revenue per day in EUR" in eur

    daily = staff.get("/reports/revenue/daily/export.csv?start=2025-03-01&end=2025-04-30")
    assert daily["Content-Disposition"] == 'attachment; filename="revenue-daily-2025-03-01-to-2025-04-30.csv"'
    assert rows_of(daily) == [
        ["date", "currency", "bookings", "cancelled", "travellers", "booked", "revenue"],
        ["2025-03-03", "GBP", "2", "0", "3", "3000.00", "2000.00"],
        ["2025-03-04", "EUR", "1", "0", "3", "1500.00", "1500.00"],
        ["2025-04-10", "GBP", "1", "1", "0", "0.00", "800.00"],
        ["2025-04-11", "GBP", "1", "1", "0", "0.00", "0.00"],
    ]
    monthly = staff.get(f"/reports/revenue/monthly/export.csv?{RANGE_2025}")
    assert rows_of(monthly)[1:] == [
        ["2025-03", "EUR", "1", "0", "3", "1500.00", "1500.00"],
        ["2025-03", "GBP", "2", "0", "3", "3000.00", "2000.00"],
        ["2025-04", "GBP", "2", "2", "0", "0.00", "800.00"],
    ]


def test_resort_and_seat_reports_show_the_figures(loaded: KnownData) -> None:
    staff = as_user(loaded.staff_alpha)
    assert rows_of(staff.get(f"/reports/resorts/export.csv?{RANGE_2025}")) == [
        ["resort", "currency", "bookings", "cancelled", "travellers", "customers", "revenue"],
        ["Alps", "GBP", "2", "2", "3", "2", "2800.00"],
        ["Riviera", "EUR", "1", "0", "3", "1", "1500.00"],
    ]
    page = staff.get(f"/reports/seats/?{RANGE_2025}").content.decode()
    assert 'data-overall="16"' in page  # 6 of 38 seats
    assert 'data-trip="SKI-1"' in page and 'data-percent="30"' in page
    seats = rows_of(staff.get(f"/reports/seats/export.csv?{RANGE_2025}"))
    assert [row[:9] for row in seats[1:]] == [
        ["2025-06-01", "SKI-1", "Powder week", "Alps", "10", "3", "2", "1", "30.0"],
        ["2025-06-15", "SEA-1", "Sun and sea", "Riviera", "20", "3", "3", "0", "15.0"],
        ["2025-07-01", "SKI-2", "Glacier days", "Alps", "8", "0", "0", "0", "0.0"],
    ]


def test_task_flow_staff_see_their_teams_and_admins_all(loaded: KnownData) -> None:
    march = "start=2025-03-01&end=2025-03-31"
    staff, admin = as_user(loaded.staff_alpha), as_user(loaded.admin)
    page = staff.get(f"/reports/tasks/?{march}").content.decode()
    assert f'data-team="{loaded.alpha.pk}"' in page and f'data-team="{loaded.bravo.pk}"' not in page
    assert "36.00 h" in page  # Alpha's average over the month: (48 + 36 + 24) / 3
    assert staff.get(f"/reports/tasks/?{march}&team={loaded.bravo.pk}").status_code == 404
    assert staff.get(f"/reports/tasks/export.csv?{march}&team={loaded.bravo.pk}").status_code == 404
    assert rows_of(staff.get(f"/reports/tasks/export.csv?{march}")) == [
        ["team_id", "team", "week_start", "created", "done", "cycle_hours_avg", "cycle_hours_median"],
        [str(loaded.alpha.pk), "Alpha", "2025-03-03", "3", "2", "42.00", "42.00"],
        [str(loaded.alpha.pk), "Alpha", "2025-03-10", "1", "1", "24.00", "24.00"],
    ]

    everything = admin.get(f"/reports/tasks/?{march}&team={loaded.bravo.pk}").content.decode()
    assert f'data-team="{loaded.alpha.pk}"' in everything and f'data-team="{loaded.bravo.pk}"' in everything
    assert len(rows_of(admin.get(f"/reports/tasks/export.csv?{march}"))) == 4

    # A reports reader in no team: the task flow is a team report, so it does not exist for them.
    assert as_user(loaded.staff_none).get(f"/reports/tasks/?{march}").status_code == 404
    assert as_user(loaded.staff_none).get(f"/reports/tasks/?{march}&team={loaded.alpha.pk}").status_code == 404


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("/reports/revenue/daily/?start=2025-02-30", "Enter a valid date"),
        ("/reports/revenue/daily/?start=2025-05-01&end=2025-04-01", "must not be after"),
        ("/reports/revenue/daily/?start=2020-01-01&end=2025-01-01", "at most 366 days"),
        ("/reports/revenue/monthly/?currency=XYZ", "Select a valid choice"),
        ("/reports/seats/?end=not-a-date", "Enter a valid date"),
        ("/reports/tasks/?team=abc", "Enter a whole number"),
        ("/reports/resorts/export.csv?start=2025-05-01&end=2025-04-01", "must not be after"),
        ("/reports/tasks/export.csv?start=1999-01-01&end=2025-01-01", "at most 731 days"),
    ],
)
def test_bad_filters_are_a_400_with_a_message(committed_db, url: str, message: str) -> None:
    staff = person_create("admin", "reports-bad-input@example.com")  # every report, the task flow included
    response = as_user(staff).get(url)
    assert response.status_code == 400
    assert message in response.content.decode()


def test_unknown_period_is_a_404_and_an_unbuilt_star_is_explained(committed_db) -> None:
    star_drop()
    staff = as_user(person_create("reports_reader", "reports-early@example.com"))
    assert staff.get("/reports/revenue/weekly/").status_code == 404
    page = staff.get("/reports/revenue/daily/")
    assert page.status_code == 200 and b"have not been built yet" in page.content
    export = staff.get("/reports/seats/export.csv")
    assert export.status_code == 503 and b"have not been built yet" in export.content


def test_csv_neutralises_formulas_in_user_text() -> None:
    from reports.views import csv_response

    response = csv_response("x.csv", ["resort"], [["=HYPERLINK(1)"], ["-5"], [-5], ["Alps"]])
    assert rows_of(response)[1:] == [["'=HYPERLINK(1)"], ["'-5"], ["-5"], ["Alps"]]


def test_refresh_is_for_admins_only(committed_db) -> None:
    staff = person_create("reports_reader", "reports-refresh@example.com")
    traveller = User.objects.create_user("reports-refresh-t@example.com", None)
    assert Client().post("/reports/refresh/").status_code == 302
    assert as_user(staff).post("/reports/refresh/").status_code == 404
    assert as_user(traveller).post("/reports/refresh/").status_code == 404
    admin = User.objects.create_superuser("reports-refresh-a@example.com", None)
    assert as_user(admin).get("/reports/refresh/").status_code == 405


def test_charts_escape_user_text() -> None:
    from reports.charts import bar_chart, column_chart, utilisation_chart

    evil = '<script>alert("x")</script>'
    for svg in (
        column_chart([(evil, 1.0)], title=evil),
        utilisation_chart([(evil, 1, 2)], title=evil),
        bar_chart([(evil, 3)], title=evil),
    ):
        assert "<script>" not in svg and "&lt;script&gt;" in svg


def test_task_flow_opens_on_a_team_with_data_and_shows_an_empty_state_otherwise(loaded: KnownData) -> None:
    """Issue 15: the page opened on an (alphabetically first) empty team with an axis of "0.0 h"."""
    from accounts.models import Team
    from taskforge.dbcontext import DbContext, db_context

    with db_context(DbContext(user_id=str(loaded.admin.pk), role="system")):
        empty = Team.objects.create(name="Aardvarks", slug="aardvarks-reports", created_by=loaded.admin)
    admin = as_user(loaded.admin)
    march = "start=2025-03-01&end=2025-03-31"
    page = admin.get(f"/reports/tasks/?{march}").content.decode()
    assert f'data-team="{empty.pk}"' in page  # listed, but not charted
    assert "<h2>Alpha</h2>" in page and '<svg class="chart"' in page and "data-empty-state" not in page
    assert "0.0 h" not in page
    chosen = admin.get(f"/reports/tasks/?{march}&team={empty.pk}").content.decode()
    assert "<h2>Aardvarks</h2>" in chosen and "data-empty-state" in chosen
    assert '<svg class="chart"' not in chosen and "0.0 h" not in chosen and "nothing to chart" in chosen
