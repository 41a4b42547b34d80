"""The whole journey of issue 20 in headless Chromium: a traveller joins the waiting list of
a full departure; the traveller holding its seats cancels; the waiting traveller receives
the offer and accepts it; the booking desk confirms the booking, the departure's first
confirmed one; ops then see the departure's checklist tasks on their board and follow a
task to the departure's checklist."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest
from django.utils import timezone

from accounts.models import Membership, Team
from bookings import services as booking_services
from bookings.models import Booking, BookingStatus, WaitlistEntry, WaitlistStatus
from bookings.services import waitlist
from bookings.tests.conftest import create_trip
from checklists import services
from mail.models import EmailDelivery
from taskforge.dbcontext import context_for_system, db_context
from taskforge.testing.personas import acting, person_create

PASSWORD = "correct-horse-battery-staple"


def _user(kind: str) -> object:
    return person_create(kind, f"{kind}-{uuid.uuid4().hex[:8]}@example.com", PASSWORD, email_verified=True)


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
    """Made before the browser starts: a 2-seat trip with a checklist for team Ops, sold out
    to a holder whose booking is still pending; a waiting traveller, the booking desk, ops."""
    editor, desk = _user("catalogue_editor"), _user("booking_desk")
    holder, waiting, ops_member = _user("traveller"), _user("traveller"), _user("member")
    with db_context(context_for_system("browser scene")):
        ops = Team.objects.create(name="Ops", slug=f"ops-{uuid.uuid4().hex[:6]}")
        Membership.objects.create(team=ops, user=ops_member, role="member")
    trip = create_trip(
        editor, name="Lofoten Lights", resort="Lofoten", seats=2, start=timezone.localdate() + dt.timedelta(days=90)
    )
    with acting(editor):
        services.checklist_item_add(
            actor=editor, trip_code=trip.code, title="Confirm the hotel", team_id=ops.pk, offset_days=-30
        )
        services.checklist_item_add(
            actor=editor, trip_code=trip.code, title="Brief the guide", team_id=ops.pk, offset_days=-1
        )
    with acting(holder):
        held, _ = booking_services.booking_create(
            actor=holder,
            trip_code=trip.code,
            travel_date=trip.start,
            travellers=2,
            idempotency_key=uuid.uuid4(),
            expected_total_minor=trip.price_minor * 2,
        )
    return {
        "trip": trip,
        "desk": desk,
        "holder": holder,
        "waiting": waiting,
        "ops": ops,
        "ops_member": ops_member,
        "held": held,
    }


@pytest.mark.browser
def test_waiting_list_to_the_ops_board(live_server_proc, scene, browser_page) -> None:
    base, page = live_server_proc.url, browser_page
    trip, held, waiting = scene["trip"], scene["held"], scene["waiting"]
    date = trip.start.isoformat()

    # 1. The waiting traveller finds the departure sold out and joins its waiting list.
    _sign_in(page, base, waiting, f"/trips/{trip.code}/")
    row = page.locator(f'#departures tr[data-departure="{date}"]')
    assert "Sold out" in row.inner_text()
    row.locator("input[name=travellers]").fill("1")
    row.locator("button", has_text="Join the waiting list").click()
    page.wait_for_url(re.compile(r"/waitlist/\d+/$"))
    entry_id = int(re.search(r"/waitlist/(\d+)/$", page.url).group(1))

    # 2. The holder cancels their booking; the offer round the cancellation queued runs (as the
    #    Celery worker would) and the waiting traveller is emailed the offer.
    _sign_in(page, base, scene["holder"], "/bookings/mine/")
    page.click(f'tr[data-booking="{held.pk}"] a >> nth=0')
    page.click("text=Cancel booking")
    page.click("#confirm-cancel")
    page.wait_for_url(f"{base}/bookings/{held.pk}/")
    departure_id = held.departure_id
    assert _off_loop(lambda: waitlist.waitlist_offer_round(departure_id)) == [entry_id]

    def offer_email() -> list[str]:
        with db_context(context_for_system("browser test")):
            return list(
                EmailDelivery.objects.filter(
                    kind="waitlist_offer", idempotency_key=f"waitlist:{entry_id}:offer"
                ).values_list("recipient", flat=True)
            )

    assert _off_loop(offer_email) == [waiting.email]

    # 3. The traveller follows the offer's link and accepts it: a booking at the held price.
    _sign_in(page, base, waiting, f"/waitlist/{entry_id}/")
    page.click("#waitlist-accept")
    page.wait_for_url(re.compile(r"/bookings/\d+/$"))
    booking_id = int(re.search(r"/bookings/(\d+)/$", page.url).group(1))

    def entry_and_booking() -> tuple[str, str]:
        with db_context(context_for_system("browser test")):
            return WaitlistEntry.objects.get(pk=entry_id).status, Booking.objects.get(pk=booking_id).status

    assert _off_loop(entry_and_booking) == (WaitlistStatus.ACCEPTED, BookingStatus.PENDING)

    # 4. The booking desk confirms it: the departure's first confirmed booking starts its checklist.
    _sign_in(page, base, scene["desk"], "/bookings/staff/?status=pending")
    page.click(f'tr[data-booking="{booking_id}"] a')
    page.click("#staff-confirm")
    page.wait_for_url(f"{base}/bookings/{booking_id}/")
    assert page.inner_text("#booking-status") == "Confirmed"

    # 5. Ops see the checklist's tasks on their board and follow one to the departure.
    board = f"/tasks/teams/{scene['ops'].pk}/board/"
    _sign_in(page, base, scene["ops_member"], board)
    page.wait_for_selector("text=Confirm the hotel")
    assert page.locator("text=Brief the guide").count() >= 1
    page.click("text=Confirm the hotel")
    page.wait_for_url(re.compile(r"/tasks/[0-9a-f-]{36}/$"))
    page.click("[data-task-links] a >> nth=0")
    page.wait_for_url(f"{base}/checklists/departures/{departure_id}/")
    assert page.inner_text("[data-progress]").startswith("0 of 2 done")
