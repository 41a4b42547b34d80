"""What the bookings app relies on from the document store, run against SecantusDB (a real
MongoDB wire server): the stored types of a trip document, the version-guarded (batched)
upserts of the relay, the unique code, and an index scan on the trip page's hot query."""

from __future__ import annotations

import datetime as dt
import importlib
import json
from types import SimpleNamespace

import pytest
from django.db import IntegrityError

from bookings.models import ItineraryDay, TripContent
from bookings.payloads import trip_content_state
from bookings.sync import trip_apply, trip_apply_many, trip_document_fields
from sync.models import OutboxEvent
from taskforge.mongo import documents_collection

pytestmark = pytest.mark.django_db

PAYLOAD = {
    "code": "MAL-1",
    "name": "Maldives Villa",
    "resort": "Maldives",
    "length_days": 7,
    "start": "2030-03-01",
    "price_minor": 420_000,
    "currency": "GBP",
    "price_range": "luxury",
    "image": "trips/a.jpg",
    "thumbnail": "trips/a_thumb.jpg",
    "description_md": "**Reef**",
    "keywords": ["beach", "reef"],
    "itinerary": [{"day": 1, "title": "Arrive", "details": "Seaplane"}, {"day": 2, "title": "Reef", "details": ""}],
    "active": True,
    "seats": 12,
    "created_at": "2029-01-01T10:00:00.123456+00:00",
    "updated_at": "2029-01-02T10:00:00.654321+00:00",
}


def _event(version: int, code: str = "MAL-1", **changes) -> OutboxEvent:
    payload = {**PAYLOAD, "code": code, **changes}
    return OutboxEvent(aggregate_type="trip", aggregate_id=code, version=version, payload=payload)


def _raw(code: str) -> dict:
    return documents_collection(TripContent).find_one({"code": code})


def test_a_trip_document_is_stored_with_real_types_and_read_back_through_the_orm() -> None:
    trip_apply(_event(1))
    trip_apply(_event(2, active=False, updated_at="2029-02-01T08:00:00+00:00"))  # a $set on an existing document
    raw = _raw("MAL-1")
    assert raw["_id"] == "MAL-1" and raw["version"] == 2
    assert raw["active"] is False  # a real boolean after an update, not 0/1
    assert isinstance(raw["updated_at"], dt.datetime) and isinstance(raw["start"], dt.datetime)  # not text
    assert raw["itinerary"][0] == {"day": 1, "title": "Arrive", "details": "Seaplane"}  # subdocuments
    assert isinstance(raw["price_minor"], int)  # integer minor units
    doc = TripContent.objects.for_code("MAL-1")
    assert doc.start == dt.date(2030, 3, 1) and doc.active is False
    assert doc.updated_at == dt.datetime(2029, 2, 1, 8, tzinfo=dt.UTC)  # aware, UTC
    assert doc.created_at == dt.datetime(2029, 1, 1, 10, 0, 0, 123000, tzinfo=dt.UTC)  # milliseconds kept
    assert [(d.day, d.title) for d in doc.itinerary] == [(1, "Arrive"), (2, "Reef")]
    state = trip_content_state(doc)
    assert json.loads(json.dumps(state)) == state  # the payload shape: JSON as it is
    assert state["start"] == "2030-03-01" and state["keywords"] == ["beach", "reef"]


def test_the_relay_upserts_only_move_forward_one_by_one_and_in_batches() -> None:
    trip_apply(_event(2, name="Second"))
    trip_apply(_event(1, name="First"))  # late, older: ignored
    trip_apply(_event(2, name="Replayed"))  # same version: ignored
    assert TripContent.objects.for_code("MAL-1").name == "Second"
    # A catch-up batch: new documents (inserted), a newer version, an older one, a duplicate.
    trip_apply_many(
        [
            _event(1, code="BAL-1", name="Bali"),
            _event(3, name="Third"),
            _event(1, name="Stale"),
            _event(1, code="BAL-1", name="Bali again"),
            _event(1, code="ALP-1", name="Alps"),
        ]
    )
    names = dict(TripContent.objects.values_list("code", "name"))
    assert names == {"MAL-1": "Third", "BAL-1": "Bali", "ALP-1": "Alps"}
    assert TripContent.objects.count() == 3
    assert TripContent.objects.filter(active=True).count() == 3


def test_the_trip_code_is_unique() -> None:
    TripContent.objects.create(id="A-1", code="A-1", **_model_fields())
    with pytest.raises(IntegrityError):
        TripContent.objects.create(id="A-2", code="A-1", **_model_fields())


def _model_fields() -> dict:
    fields = trip_document_fields(PAYLOAD)
    fields.pop("code")
    fields["start"] = dt.date(2030, 3, 1)
    fields["itinerary"] = [ItineraryDay(day=1, title="Arrive")]
    return {**fields, "version": 1}


def _winning_stages(plan: dict) -> list[str]:
    stages, node = [], plan["queryPlanner"]["winningPlan"]
    while node:
        stages.append(node["stage"])
        node = node.get("inputStage")
    return stages


def test_the_trip_page_query_uses_the_code_index() -> None:
    """The trip page's (and edit form's) document read: TripContent.objects.for_code(code)."""
    trip_apply_many([_event(1, code=f"IX-{n}") for n in range(30)])
    plan = json.loads(TripContent.objects.filter(code="IX-7")[:1].explain())
    assert "IXSCAN" in _winning_stages(plan), plan["queryPlanner"]["winningPlan"]
    assert plan["queryPlanner"]["winningPlan"]["inputStage"]["indexName"] == "trips_code"
    assert TripContent.objects.for_code("IX-7").code == "IX-7"
    assert TripContent.objects.for_code("NOPE") is None


def test_the_migration_carries_old_trip_documents_over(docserver) -> None:
    """A development database from before migration 0005: its "trips" collection (MongoEngine
    indexes, ISO-string times, 0/1 booleans) is set aside, then copied back in the model's types."""
    migration = importlib.import_module("bookings.migrations.0005_trip_content")
    scratch_name = f"{documents_collection(TripContent).database.name}_legacy"
    client = documents_collection(TripContent).database.client
    client.drop_database(scratch_name)
    scratch = client[scratch_name]
    scratch["trips"].create_index("code", unique=True, name="code_unique")
    old = {
        **{k: v for k, v in PAYLOAD.items() if k not in ("start", "created_at", "updated_at", "active")},
        "_id": "OLD-1",
        "code": "OLD-1",
        "start": "2030-03-01 00:00:00",
        "created_at": "2029-01-01T10:00:00+00:00",
        "updated_at": dt.datetime(2029, 1, 2, 10),
        "active": 0,
        "version": 4,
    }
    scratch["trips"].insert_one(old)
    editor = SimpleNamespace(connection=SimpleNamespace(database=scratch))
    try:
        migration.legacy_set_aside(None, editor)
        assert "trips" not in scratch.list_collection_names()  # the model's collection can be created
        migration.legacy_copy_back(None, editor)
        assert scratch.list_collection_names() == ["trips"]
        moved = scratch["trips"].find_one({"_id": "OLD-1"})
    finally:
        client.drop_database(scratch_name)
    assert moved["active"] is False and isinstance(moved["created_at"], dt.datetime) and moved["version"] == 4
    documents_collection(TripContent).insert_one(moved)
    doc = TripContent.objects.for_code("OLD-1")
    assert doc.start == dt.date(2030, 3, 1) and doc.created_at == dt.datetime(2029, 1, 1, 10, tzinfo=dt.UTC)
    assert doc.itinerary[0].title == "Arrive" and doc.active is False
