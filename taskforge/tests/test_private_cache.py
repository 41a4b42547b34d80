"""Responses to a signed-in person are never stored by a browser or a shared cache
(`Cache-Control: no-store`), unless the view chose its own caching; anonymous pages are
left alone."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import Client

from audit.models import AuditLog
from bookings.models import Booking
from reports import etl
from reports.tests.testdata import KnownData, known_data_create, star_drop
from taskforge.dbcontext import DbContext, db_context

RANGE = "start=2025-01-01&end=2025-12-31"


@pytest.fixture
def loaded(committed_db) -> Iterator[KnownData]:
    star_drop()
    data = known_data_create()
    assert etl.run_etl().status == "ok"
    yield data
    star_drop()


def as_user(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def assert_not_stored(response, url: str) -> None:
    assert response.status_code == 200, (url, response.status_code)
    directives = {part.strip() for part in response.get("Cache-Control", "").split(",")}
    assert "no-store" in directives, (url, response.get("Cache-Control"))


def test_personal_pages_are_not_stored(loaded: KnownData) -> None:
    traveller, staff, admin = as_user(loaded.traveller1), as_user(loaded.staff_alpha), as_user(loaded.admin)
    with db_context(DbContext(user_id=str(loaded.admin.pk), role="system")):
        booking_id = Booking.objects.filter(user=loaded.traveller1).values_list("pk", flat=True).first()
        entry_id = AuditLog.objects.order_by("-id").values_list("pk", flat=True).first()
    pages = {
        traveller: [
            "/bookings/mine/",
            f"/bookings/{booking_id}/",
            "/accounts/profile/",
            "/accounts/sessions/",
            "/accounts/data/",
            "/accounts/data/export/",
            "/trips/",  # the catalogue too, once signed in: the page carries the person's nav
        ],
        staff: [
            "/reports/",
            f"/reports/revenue/monthly/?{RANGE}",
            f"/reports/revenue/monthly/export.csv?{RANGE}",
            f"/reports/revenue/daily/export.csv?{RANGE}",
            f"/reports/resorts/?{RANGE}",
            f"/reports/resorts/export.csv?{RANGE}",
            f"/reports/seats/?{RANGE}",
            f"/reports/seats/export.csv?{RANGE}",
            f"/reports/tasks/?{RANGE}",
            f"/reports/tasks/export.csv?{RANGE}",
        ],
        admin: [
            "/bookings/staff/",
            "/audit/",
            f"/audit/entry/{entry_id}/",
            f"/audit/history/accounts_user/{loaded.traveller1.pk}/",
            "/system/",
        ],
    }
    for client, urls in pages.items():
        for url in urls:
            assert_not_stored(client.get(url), url)
    # htmx partials too (the same views answer them).
    assert_not_stored(traveller.get("/bookings/mine/", headers={"HX-Request": "true"}), "/bookings/mine/ (htmx)")


@pytest.mark.django_db
def test_anonymous_pages_keep_their_caching(client: Client) -> None:
    for url in ("/", "/trips/", "/trips/?sort=price"):
        response = client.get(url)
        assert response.status_code == 200
        assert "no-store" not in response.get("Cache-Control", ""), url


@pytest.mark.django_db
def test_a_view_that_chose_its_caching_keeps_it(make_user, settings, tmp_path) -> None:
    from accounts import services

    settings.MEDIA_ROOT = tmp_path
    user = make_user("traveller")
    avatar_dir = services.avatar_dir()
    avatar_dir.mkdir(parents=True, exist_ok=True)
    (avatar_dir / ("a" * 32 + ".png")).write_bytes(b"\x89PNG\r\n\x1a\n")
    response = as_user(user).get("/accounts/avatars/" + "a" * 32 + ".png")
    assert response.status_code == 200
    assert response["Cache-Control"] == "private, max-age=86400"  # the avatar view's own choice
