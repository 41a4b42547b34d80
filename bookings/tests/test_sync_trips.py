"""The trip outbox handler: idempotent by version, MongoDB outages, drift repair, audit of content."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection

from audit.models import AuditLog
from bookings import selectors, services
from bookings.models import TripContent, TripListing
from bookings.sync import trip_apply
from bookings.tests.stored import trip_doc
from sync.models import OutboxEvent, OutboxStatus
from sync.reconcile import outbox_reconcile
from sync.relay import relay_sweep, store_pause_clear
from taskforge.dbcontext import DbContext, db_context
from taskforge.testing.personas import acting

pytestmark = pytest.mark.django_db


def _event(code: str, version: int) -> OutboxEvent:
    return OutboxEvent.objects.get(aggregate_type="trip", aggregate_id=code, version=version)


def test_trip_create_writes_row_event_and_content_audit(make_trip) -> None:
    trip = make_trip(code="SYNC-1", apply=False)
    event = _event("SYNC-1", 1)
    assert event.status == OutboxStatus.PENDING and event.payload["name"].startswith("Trip number")
    assert not TripListing.objects.filter(code="SYNC-1").exists()
    assert trip_doc("SYNC-1") is None
    with db_context(DbContext(user_id="1", role="system")), connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM audit_log WHERE table_name = 'trip_document' AND record_id = %s", [trip.code]
        )
        assert cursor.fetchone()[0] == 1
        cursor.execute(
            "SELECT count(*) FROM audit_log WHERE table_name = 'bookings_trip' AND record_id = %s", [str(trip.pk)]
        )
        assert cursor.fetchone()[0] == 1
    assert relay_sweep() >= 1
    assert TripListing.objects.get(code="SYNC-1").version == 1
    assert trip_doc("SYNC-1")["version"] == 1


def test_a_datetime_in_the_trip_document_is_audited_as_text(make_trip, catalogue_editor) -> None:
    """The document an edit starts from may hold a datetime (as MongoDB hands one back): the
    content audit records it as ISO text rather than failing the edit."""
    trip = make_trip(code="SYNC-DT")
    when = dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    state = {**selectors.trip_state(trip), "reviewed_at": when}
    with acting(catalogue_editor):
        services.trip_set_active(actor=catalogue_editor, trip_code=trip.code, active=False, current_state=state)
    with db_context(DbContext(user_id="1", role="system")):
        row = AuditLog.objects.filter(table_name="trip_document", record_id=trip.code).order_by("-id").first()
    assert row.operation == "UPDATE" and row.old_values["reviewed_at"] == "2030-01-02T03:04:05Z"
    assert row.new_values["active"] is False


def test_replayed_and_out_of_order_events_change_nothing(make_trip) -> None:
    make_trip(code="SYNC-2", name="First name")
    v1 = _event("SYNC-2", 1)
    v2 = OutboxEvent(
        aggregate_type="trip",
        aggregate_id="SYNC-2",
        version=2,
        event_type="trip.updated",
        payload={**v1.payload, "name": "Second name"},
    )
    trip_apply(v2)
    trip_apply(v1)  # late, older: ignored by both stores
    trip_apply(v2)  # replayed: no change
    assert trip_doc("SYNC-2")["name"] == "Second name"
    listing = TripListing.objects.get(code="SYNC-2")
    assert (listing.name, listing.version) == ("Second name", 2)


def test_mongo_down_keeps_search_working_and_the_relay_catches_up(make_trip, client, docserver) -> None:
    docserver.stop()
    try:
        trip = make_trip(code="DOWN-1", name="Patagonia Glaciers", resort="Patagonia")  # relay runs, Mongo fails
        event = _event("DOWN-1", 1)
        assert event.status == OutboxStatus.PENDING
        assert TripListing.objects.filter(code="DOWN-1").exists()  # projection applied before the document
        assert "DOWN-1" in client.get("/trips/?q=patagonia").content.decode()
        page = client.get(f"/trips/{trip.code}/")
        assert page.status_code == 200 and "Details pending" in page.content.decode()
    finally:
        docserver.start()
    # Skip the relay's back-off pause (assigned, not monkeypatched: restoring the value set
    # during the outage would pause the relay of the next test).
    store_pause_clear()
    OutboxEvent.objects.filter(pk=event.pk).update(next_attempt_at=event.created_at, locked_by="")
    assert relay_sweep() == 1
    assert trip_doc("DOWN-1")["name"] == "Patagonia Glaciers"
    assert "Details pending" not in client.get(f"/trips/{trip.code}/").content.decode()


def _trip_report(fix: bool = False):
    (report,) = outbox_reconcile(aggregate_types=["trip"], fix=fix)
    return report


def test_reconcile_finds_and_repairs_drift(make_trip) -> None:
    make_trip(code="DRIFT-1", name="Kept name")
    make_trip(code="DRIFT-2")
    assert _trip_report().drift == 0
    TripContent.objects.filter(code="DRIFT-1").delete()
    TripListing.objects.filter(code="DRIFT-2").delete()
    report = _trip_report()
    assert report.missing == {"documents": ["DRIFT-1"], "projection": ["DRIFT-2"]}
    report = _trip_report(fix=True)
    assert report.repaired["reemitted"] == 2
    assert trip_doc("DRIFT-1")["name"] == "Kept name"
    assert TripListing.objects.filter(code="DRIFT-2").exists()
    assert _trip_report().drift == 0
    # History pruned, document still there but stale: the document's content is re-emitted.
    OutboxEvent.objects.filter(aggregate_id="DRIFT-1").delete()
    TripContent.objects.filter(code="DRIFT-1").update(version=0)
    assert _trip_report(fix=True).repaired["reemitted"] == 1
    assert trip_doc("DRIFT-1")["version"] == 1
