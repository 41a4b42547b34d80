"""End to end in headless Chromium: a traveller searches with a typo, books, sees the booking
in My bookings and cancels it; the booking desk confirms another traveller's booking."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest
from django.utils import timezone

from bookings import services
from bookings.models import Booking, BookingStatus
from bookings.tests.conftest import create_trip
from taskforge.testing.personas import acting, person_create

PASSWORD = "correct-horse-battery-staple"


def _user(role: str) -> object:
    return person_create(role, f"{role}-{uuid.uuid4().hex[:8]}@example.com", PASSWORD, email_verified=True)


def _sign_in(page, base: str, user, next_url: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{base}/accounts/login/?next={next_url}")
    page.fill("input[name=email]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(re.compile(re.escape(next_url) + "$"))


def _off_loop(func):
    """Run ORM code in a worker thread: Playwright's event loop forbids it in the test body."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connections

    def run():
        try:
            return func()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


@pytest.fixture
def scene(committed_db):
    """Made before the browser starts: a catalogue editor's two trips, the booking desk, two
    travellers, and the other traveller's pending booking."""
    editor, desk = _user("catalogue_editor"), _user("booking_desk")
    traveller, other = _user("traveller"), _user("traveller")
    villa = create_trip(
        editor,
        name="Maldives Overwater Villa",
        resort="Maldives",
        price_minor=150_000,
        start=timezone.localdate() + dt.timedelta(days=60),
        seats=6,
    )
    ski = create_trip(editor, name="Alpine Ski Week", resort="Swiss Alps")
    with acting(other):
        theirs, _ = services.booking_create(
            actor=other,
            trip_code=ski.code,
            travel_date=ski.start,
            travellers=1,
            idempotency_key=uuid.uuid4(),
            expected_total_minor=ski.price_minor,
        )
    return {"booking_desk": desk, "traveller": traveller, "villa": villa, "theirs": theirs}


@pytest.mark.browser
def test_traveller_books_and_cancels_and_the_booking_desk_confirms(live_server_proc, scene, browser_page) -> None:
    base = live_server_proc.url
    desk, traveller, villa, theirs = scene["booking_desk"], scene["traveller"], scene["villa"], scene["theirs"]
    page = browser_page

    # Traveller: search with a typo, open the trip, book two seats after reviewing the price.
    _sign_in(page, base, traveller, "/trips/")
    page.fill("input[name=q]", "maldeves")
    page.click("form.trip-filters button[type=submit]")
    page.wait_for_selector("#results >> text=showing results for")  # htmx swapped in the corrected search
    assert page.locator(f'#results [data-trip="{villa.code}"]').count() == 1
    page.click(f'[data-trip="{villa.code}"] h2 a')
    page.wait_for_url(f"{base}/trips/{villa.code}/")
    assert "6" in page.inner_text("#seats-left")
    page.click("text=Book this trip")
    page.fill("input[name=travellers]", "2")
    page.wait_for_selector("#quote >> text=£3,000.00")  # live quote (htmx)
    page.click("#booking-form button[type=submit]")
    assert page.inner_text("#review-total") == "£3,000.00"
    page.click("#confirm-booking")
    page.wait_for_url(re.compile(r"/bookings/\d+/$"))
    booking_id = int(re.search(r"/bookings/(\d+)/$", page.url).group(1))
    assert page.inner_text("#booking-status") == "Pending"

    # ...it is in My bookings; cancel it, seeing the refund first.
    page.goto(f"{base}/bookings/mine/")
    page.click(f'tr[data-booking="{booking_id}"] a >> nth=0')
    page.click("text=Cancel booking")
    assert "100%: £3,000.00" in page.inner_text("#refund-quote")
    page.click("#confirm-cancel")
    page.wait_for_url(f"{base}/bookings/{booking_id}/")
    assert page.inner_text("#booking-status") == "Cancelled"
    assert page.inner_text("#booking-refund") == "£3,000.00"

    # The booking desk: confirm the other traveller's pending booking.
    _sign_in(page, base, desk, "/bookings/staff/?status=pending")
    page.click(f'tr[data-booking="{theirs.pk}"] a')
    page.click("#staff-confirm")
    page.wait_for_url(f"{base}/bookings/{theirs.pk}/")
    assert page.inner_text("#booking-status") == "Confirmed"

    def statuses() -> dict[int, str]:
        with acting(desk):
            return dict(Booking.objects.values_list("id", "status"))

    assert _off_loop(statuses) == {booking_id: BookingStatus.CANCELLED, theirs.pk: BookingStatus.CONFIRMED}
