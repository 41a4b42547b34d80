"""Headless Chromium on the catalogue and the staff trip pages: the trip edit form keeps its
departure date, a trip whose image file is gone shows a placeholder (never the browser's
broken-image icon), and an invalid filter is shown instead of being silently ignored."""

from __future__ import annotations

import datetime as dt
import os
import re

import pytest

from bookings.images import image_dir
from bookings.models import Trip, TripListing
from bookings.tests.conftest import create_trip
from bookings.tests.test_browser_bookings import _off_loop, _sign_in, _user
from sync.relay import relay_sweep

pytestmark = pytest.mark.browser


@pytest.fixture
def trips(committed_db):
    """Made before the browser starts: a catalogue editor and two trips, one of whose image files are gone."""
    editor = _user("catalogue_editor")
    kept = create_trip(editor, name="Glacier Express Rail Journey", resort="Swiss Alps", start=dt.date(2027, 6, 10))
    lost = create_trip(editor, name="Northern Lights Hunt", resort="Iceland", start=dt.date(2027, 6, 12))
    relay_sweep()
    token = TripListing.objects.get(code=lost.code).thumbnail.rsplit("/", 1)[-1].split("_")[0]
    for name in os.listdir(image_dir()):
        if name.startswith(token):
            (image_dir() / name).unlink()
    return {"catalogue_editor": editor, "kept": kept, "lost": lost}


def _broken_images(page) -> list[str]:
    """Images the browser could not draw (what shows as the broken-image icon)."""
    return page.evaluate(
        "[...document.images].filter(i => i.complete && i.naturalWidth === 0).map(i => i.getAttribute('src'))"
    )


def test_trip_edit_form_keeps_the_departure_date_and_saves(live_server_proc, trips, browser_page) -> None:
    base, page, trip = live_server_proc.url, browser_page, trips["kept"]
    _sign_in(page, base, trips["catalogue_editor"], f"/trips/staff/{trip.code}/edit/")
    assert page.input_value("#id_start") == "2027-06-10"
    page.fill("#id_seats", "14")
    page.click("form.stacked-form button[type=submit]")
    page.wait_for_url(f"{base}/trips/{trip.code}/")
    assert "This field is required" not in page.content()
    saved = _off_loop(lambda: Trip.objects.values_list("start", "seats").get(pk=trip.pk))
    assert saved == (dt.date(2027, 6, 10), 14)


def test_missing_trip_images_show_a_placeholder(live_server_proc, trips, browser_page) -> None:
    base, page, lost = live_server_proc.url, browser_page, trips["lost"]
    _sign_in(page, base, trips["catalogue_editor"], "/trips/")
    card = page.locator(f'[data-trip="{lost.code}"] img')
    card.wait_for()
    page.wait_for_load_state("networkidle")
    assert "placeholder" in card.get_attribute("src")
    assert page.locator(f'[data-trip="{trips["kept"].code}"] img').get_attribute("src").startswith("/trips/images/")
    assert _broken_images(page) == []

    for path in (f"/trips/{lost.code}/", f"/trips/staff/{lost.code}/edit/"):
        page.goto(f"{base}{path}")
        page.wait_for_load_state("networkidle")
        assert page.locator("img[src*=placeholder]").count() == 1, path
        assert _broken_images(page) == [], path


def test_an_image_that_fails_in_the_browser_falls_back_to_the_placeholder(
    live_server_proc,
    trips,
    browser_page,
) -> None:
    """The server thought the file was there (or a cached page said so), the request failed anyway."""
    base, page, kept = live_server_proc.url, browser_page, trips["kept"]
    page.route(re.compile(r".*/trips/images/.*"), lambda route: route.fulfill(status=404, body="gone"))
    page.goto(f"{base}/trips/{kept.code}/")
    page.wait_for_function("document.querySelector('img.trip-hero').src.includes('placeholder')")
    page.wait_for_load_state("networkidle")
    assert _broken_images(page) == []


def test_an_invalid_catalogue_filter_is_shown(live_server_proc, trips, browser_page) -> None:
    base, page = live_server_proc.url, browser_page
    page.goto(f"{base}/trips/")
    page.fill("#id_price_min", "500")
    page.fill("#id_price_max", "100")
    with page.expect_response(lambda r: "/trips/?" in r.url) as answer:
        page.click("form.trip-filters button[type=submit]")
    assert answer.value.status == 400
    alert = page.locator("#results [role=alert]")
    alert.wait_for()
    assert "Max price: The maximum price must not be below the minimum." in alert.inner_text()
    page.click("#results [role=alert] a[href='#id_price_max']")  # the message leads to the field
    assert page.evaluate("document.activeElement.id") == "id_price_max"
    assert page.locator("#results [data-trip]").count() == 0  # no stale results under the message
