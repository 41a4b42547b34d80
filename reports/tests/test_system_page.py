"""The admin System page: admins only; every section shows its figures, and a dead
dependency degrades its own section instead of failing the page."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from backups.models import BackupRecord, BackupStatus
from bookings.sync import trip_apply
from sync.models import OutboxEvent
from taskforge.mongo import documents_db
from taskforge.testing.personas import person_create

pytestmark = pytest.mark.django_db


def signed_in(role: str) -> Client:
    email = f"system-{role}@example.com"
    user = person_create(role, email)
    client = Client()
    client.force_login(user)
    return client


def test_only_site_admins_see_the_system_page() -> None:
    anonymous = Client().get("/system/")
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/?next=/system/")
    assert signed_in("traveller").get("/system/").status_code == 404
    assert signed_in("staff").get("/system/").status_code == 404
    admin = signed_in("admin")
    page = admin.get("/system/")
    assert page.status_code == 200
    assert b'href="/system/"' in page.content  # the admin's nav links to it
    assert b'href="/reports/"' in page.content


def test_system_page_shows_every_figure() -> None:
    documents_db()["system_page_probe"].insert_many([{"_id": 1}, {"_id": 2}, {"_id": 3}])
    admin = signed_in("admin")
    page = admin.get("/system/").content.decode()
    # PostgreSQL: cache hit ratio, connections by role and state
    assert 'data-figure="cache-hit"' in page and 'data-figure="connections"' in page
    assert f"<td>{settings.DB_APP_ROLE}</td>" in page  # its own session, at least
    assert 'data-table="activity"' in page
    # Replication: nothing configured in the test setup
    assert "No standby configured." in page
    # Documents: count per collection
    assert 'data-collection="system_page_probe"' in page
    assert "<td>system_page_probe</td><td>3</td>" in page
    # Redis, queues, outbox
    assert 'data-figure="redis-memory"' in page and 'data-figure="redis-hit"' in page
    for queue in ("default", "notifications", "sync", "backups"):
        assert f'data-queue="{queue}"' in page
    assert 'data-figure="outbox-pending"' in page
    # Backups: none recorded yet; reports: not built in this database yet (or built by another test)
    assert "No verified backup recorded" in page
    assert 'data-figure="etl"' in page


def test_last_verified_backup_is_shown() -> None:
    now = timezone.now()
    BackupRecord.objects.create(
        path="/backups/20261120T020000Z",
        status=BackupStatus.OK,
        finished_at=now - dt.timedelta(hours=20),
        verified_at=now - dt.timedelta(hours=2),
        verify_ok=True,
        verify_result={"ok": True},
    )
    page = signed_in("admin").get("/system/").content.decode()
    assert "Last verified backup" in page and "20261120T020000Z" in page
    assert "No verified backup recorded" not in page


def test_trip_documents_are_counted_on_the_system_page() -> None:
    payload = {
        "name": "Probe",
        "resort": "Crete",
        "length_days": 7,
        "start": "2030-03-01",
        "price_minor": 100_000,
        "currency": "GBP",
        "price_range": "mid-range",
        "active": True,
        "seats": 10,
    }
    for code in ("SYS-1", "SYS-2"):
        trip_apply(OutboxEvent(aggregate_type="trip", aggregate_id=code, version=1, payload={**payload, "code": code}))
    page = signed_in("admin").get("/system/").content.decode()
    assert "<td>trips</td><td>2</td>" in page


def test_document_server_down_degrades_only_its_section(docserver) -> None:
    admin = signed_in("admin")
    docserver.stop()
    try:
        page = admin.get("/system/")
    finally:
        docserver.start()
    assert page.status_code == 200
    body = page.content.decode()
    assert "Document server unavailable" in body
    assert 'data-figure="cache-hit"' in body and 'data-queue="default"' in body
