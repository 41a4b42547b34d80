"""In headless Chromium against gunicorn: a staff member finds the reports from the nav,
filters the daily revenue, sees the SVG chart and downloads the CSV."""

from __future__ import annotations

import pytest

from accounts.models import User
from reports import etl
from reports.tests.testdata import known_data_create, star_drop

pytestmark = pytest.mark.browser
PASSWORD = "correct-horse-battery"


@pytest.fixture
def reports_live(committed_db, live_server_proc):
    """Data and the star schema made before the browser starts (Playwright's loop forbids the ORM in the test)."""
    star_drop()
    known = known_data_create()
    staff = known.staff_alpha
    staff.set_password(PASSWORD)
    staff.save(update_fields=["password"])
    User.objects.filter(pk=staff.pk).update(email_verified=True)
    assert etl.run_etl().status == "ok"
    yield {"url": live_server_proc.url, "email": staff.email}
    star_drop()


def test_staff_reads_the_revenue_report_and_downloads_the_csv(reports_live, browser_page) -> None:
    page, url = browser_page, reports_live["url"]
    page.goto(f"{url}/accounts/login/?next=/reports/")
    page.fill("input[name=email]", reports_live["email"])
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url("**/reports/")
    assert page.locator("nav.mainnav a[href='/reports/']").count() == 1
    assert page.locator("nav.mainnav a[href='/system/']").count() == 0  # admins only

    page.click("text=Revenue per day")
    page.fill("input[name=start]", "2025-03-01")
    page.fill("input[name=end]", "2025-04-30")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**start=2025-03-01**")
    assert page.locator("svg.chart rect").count() == 61  # one column per day
    assert page.locator("[data-currency='GBP'] [data-revenue]").inner_text() == "£2,800.00"

    with page.expect_download() as download_info:
        page.click("text=Export CSV")
    download = download_info.value
    assert download.suggested_filename == "revenue-daily-2025-03-01-to-2025-04-30.csv"
    lines = open(download.path(), encoding="utf-8").read().splitlines()
    assert lines[0] == "date,currency,bookings,cancelled,travellers,booked,revenue"
    assert lines[1] == "2025-03-03,GBP,2,0,3,3000.00,2000.00"


LONG_RESORT = "Riviera di Levante and the Cinque Terre National Park Coast"


@pytest.fixture
def long_names_live(committed_db, live_server_proc):
    """The known data with one resort renamed to something long, loaded before the browser starts."""
    from bookings.models import TripListing
    from taskforge.dbcontext import DbContext, db_context

    star_drop()
    known = known_data_create()
    staff = known.staff_alpha
    staff.set_password(PASSWORD)
    staff.save(update_fields=["password"])
    User.objects.filter(pk=staff.pk).update(email_verified=True)
    with db_context(DbContext(user_id=str(known.admin.pk), role="system")):
        TripListing.objects.filter(code="SEA-1").update(resort=LONG_RESORT)
    assert etl.run_etl().status == "ok"
    yield {"url": live_server_proc.url, "email": staff.email}
    star_drop()


def test_long_resort_names_are_not_clipped(long_names_live, browser_page) -> None:
    """Issue 15: long resort names were cut off at the chart's left edge."""
    page, url = browser_page, long_names_live["url"]
    page.goto(f"{url}/accounts/login/?next=/reports/resorts/")
    page.fill("input[name=email]", long_names_live["email"])
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.goto(f"{url}/reports/resorts/?start=2025-01-01&end=2025-12-31")
    labels = page.locator("svg.chart text.chart-label")
    assert labels.count() == 2
    for i in range(labels.count()):
        box = labels.nth(i).evaluate("el => { const b = el.getBBox(); return {x: b.x, width: b.width}; }")
        assert box["x"] >= 0, box  # the whole label is inside the chart
    texts = labels.evaluate_all(
        "els => els.map((el) => [el.firstChild.textContent, el.querySelector('title').textContent])"
    )
    assert [full for _, full in texts] == ["Alps", LONG_RESORT]
    shown = dict((full, text) for text, full in texts)[LONG_RESORT]
    assert shown.endswith("…") and len(shown) > 20
