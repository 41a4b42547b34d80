"""In headless Chromium against gunicorn (issue 15, items 9 to 11): the booking and task
tables fit a 390 px phone with their Status in view; the nav's Register button and the
priority chart keep their contrast, measured on the rendered colours, in light and dark;
a trip's code cannot be typed over on its edit form."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest
from django.utils import timezone

from accounts.models import Membership, Team, User
from bookings import services as booking_services
from bookings.tests.conftest import create_trip
from taskforge.testing.personas import acting, person_create
from tasks import services as task_services

pytestmark = pytest.mark.browser
PASSWORD = "correct-horse-battery"
PHONE = {"width": 390, "height": 844}

# WCAG contrast of two CSS colours as Chromium reports them ("rgb(r, g, b)"), computed in the page.
CONTRAST_JS = """([a, b]) => {
  const lum = (css) => {
    const [r, g, b] = css.match(/[\\d.]+/g).slice(0, 3).map(Number).map((v) => v / 255)
      .map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}"""


def _user(kind: str, name: str) -> User:
    email = f"{name.lower().replace(' ', '.')}-{uuid.uuid4().hex[:6]}@example.com"
    return person_create(kind, email, PASSWORD, display_name=name, email_verified=True)


@pytest.fixture
def scene(committed_db, live_server_proc):
    """Made before the browser starts (Playwright's loop forbids the ORM in the test body):
    a traveller with a booking, staff in a team with tasks of every priority."""
    staff, traveller = _user("staff", "Sana Staff"), _user("traveller", "Theo Traveller")
    trip = create_trip(
        staff,
        name="Maldives Overwater Villa and Reef Snorkelling Week",
        resort="Maldives",
        start=timezone.localdate() + dt.timedelta(days=60),
    )
    with acting(traveller):
        booking_services.booking_create(
            actor=traveller,
            trip_code=trip.code,
            travel_date=trip.start,
            travellers=2,
            idempotency_key=uuid.uuid4(),
            expected_total_minor=2 * trip.price_minor,
        )
    team = Team.objects.create(name="Night ops", slug="night-ops", created_by=staff)
    Membership.objects.create(team=team, user=staff, role="admin")
    with acting(staff):
        for priority in ("low", "medium", "high", "urgent"):
            task_services.task_create(
                actor=staff,
                team_id=team.id,
                title=f"Rotate the {priority} certificates on the load balancers of the west region",
                priority=priority,
                assignee_id=staff.pk,
                tags=["security", "rotation"],
            )
    return {
        "url": live_server_proc.url,
        "staff": staff.email,
        "traveller": traveller.email,
        "team": team.id,
        "trip": trip.code,
    }


def _sign_in(page, url: str, email: str, target: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{url}/accounts/login/?next={target}")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(re.compile(re.escape(target) + "$"))


def _assert_fits_with_status_in_view(page, what: str) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{what}: the page scrolls sideways by {overflow}px"
    cells = page.locator("td[data-status]")
    assert cells.count() >= 1, what
    for i in range(cells.count()):
        box = cells.nth(i).bounding_box()
        assert box is not None and box["width"] > 0, what
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], f"{what}: Status at {box}"
        badge = cells.nth(i).locator(".badge").bounding_box()
        assert badge["x"] + badge["width"] <= PHONE["width"], f"{what}: status badge at {badge}"


def test_tables_fit_a_phone_with_the_status_in_view(scene, browser_page) -> None:
    page, url = browser_page, scene["url"]
    page.set_viewport_size(PHONE)
    _sign_in(page, url, scene["traveller"], "/bookings/mine/")
    _assert_fits_with_status_in_view(page, "My bookings")
    assert "Pending" in page.locator("td[data-status]").first.inner_text()
    _sign_in(page, url, scene["staff"], "/bookings/staff/")
    _assert_fits_with_status_in_view(page, "staff bookings")
    page.goto(f"{url}/tasks/teams/{scene['team']}/list/")
    _assert_fits_with_status_in_view(page, "task list")
    page.goto(f"{url}/tasks/mine/")
    _assert_fits_with_status_in_view(page, "my tasks")
    # Each stacked cell still says which column it is.
    label = page.evaluate("getComputedStyle(document.querySelector('td[data-status]'), '::before').content")
    assert label == '"Status"'


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_register_button_meets_wcag_aa_contrast(scene, browser_page, scheme: str) -> None:
    page = browser_page
    page.emulate_media(color_scheme=scheme)
    page.goto(f"{scene['url']}/trips/")
    button = page.locator("nav.mainnav a[href='/accounts/register/']")
    colours = button.evaluate("el => [getComputedStyle(el).color, getComputedStyle(el).backgroundColor]")
    assert page.evaluate(CONTRAST_JS, colours) >= 4.5, colours
    button.hover()
    hovered = button.evaluate("el => [getComputedStyle(el).color, getComputedStyle(el).backgroundColor]")
    assert page.evaluate(CONTRAST_JS, hovered) >= 4.5, hovered


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_priority_chart_reads_low_to_urgent_with_contrast(scene, browser_page, scheme: str) -> None:
    page = browser_page
    page.emulate_media(color_scheme=scheme)
    _sign_in(page, scene["url"], scene["staff"], f"/dashboard/teams/{scene['team']}/")
    card = page.locator(".card", has=page.locator("h2", has_text="By priority"))
    background = card.evaluate("el => getComputedStyle(el).backgroundColor")
    fills = {
        p: card.locator(f"rect.prio-{p}").evaluate("el => getComputedStyle(el).fill")
        for p in ("low", "medium", "high", "urgent")
    }
    contrasts = {p: page.evaluate(CONTRAST_JS, [fill, background]) for p, fill in fills.items()}
    assert all(c >= 3 for c in contrasts.values()), (scheme, fills, contrasts)  # WCAG 1.4.11
    order = [contrasts[p] for p in ("low", "medium", "high", "urgent")]
    assert order == sorted(order), (scheme, fills)  # the stronger the priority, the more it stands out


def test_trip_code_cannot_be_edited(scene, browser_page) -> None:
    page, code = browser_page, scene["trip"]
    _sign_in(page, scene["url"], scene["staff"], f"/trips/staff/{code}/edit/")
    field = page.locator("#id_code")
    assert field.input_value() == code and not field.is_editable()
    field.press("End")
    page.keyboard.type("X")
    assert field.input_value() == code
