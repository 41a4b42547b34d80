"""Every MongoDB query shape of the bookings app, on nx-27017 and mongomock alike.

Shapes (and where they are used):
* find_one by _id ............................ trip page, edit form (selectors.trip_document), reconciler
* versioned upsert of a whole trip document .... sync.trip_apply (itinerary = array of subdocuments, $set whole)
* find _id $in with a projection .............. the trip reconciler (sync.reconcile.Reconciler)
* unique index on code ........................ documents.TripDocument indexes

Divergences found here (the application copes: documents.trip_doc_state normalises
every document it reads, and no query filters or sorts on these fields in MongoDB):
* a boolean `$set` on an EXISTING document comes back from nx-27017 as 0/1;
* a datetime `$set` on an EXISTING document comes back from nx-27017 as a naive string
  "YYYY-MM-DD HH:MM:SS[.ffffff]" (the insert path keeps a real date).
The shapes compare what trip_doc_state returns, which is what the code uses.
Not used: bulk_write of UpdateOne (sync.stores.mongo_upsert_versioned_many), which
mongomock 4.3 cannot run with pymongo 4.20 (TypeError: unexpected keyword 'sort'), so
it cannot be checked here; the trip handler applies events one by one instead.
"""

from __future__ import annotations

import datetime as dt

import pytest
from pymongo import ASCENDING
from pymongo.errors import DuplicateKeyError

from bookings.documents import trip_doc_state
from bookings.sync import trip_document_fields
from sync.stores import mongo_upsert_versioned
from taskforge.mongo import mongo_db
from taskforge.testing.conformance import Shape, conformance_compare

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
DOCS = [
    {"_id": "MAL-1", "code": "MAL-1", "version": 3, "active": True, "start": dt.datetime(2030, 3, 1, tzinfo=dt.UTC)},
    {"_id": "BAL-1", "code": "BAL-1", "version": 1, "active": False, "start": dt.datetime(2030, 1, 1, tzinfo=dt.UTC)},
    {"_id": "ALP-1", "code": "ALP-1", "version": 2, "active": True, "start": dt.datetime(2030, 2, 1, tzinfo=dt.UTC)},
]


def _read(doc):
    """What the application reads from a stored document."""
    return None if doc is None else {"_id": doc["_id"], **trip_doc_state(doc)}


def _upsert_document(col):
    fields = trip_document_fields(PAYLOAD)
    first = mongo_upsert_versioned(col, "MAL-1", 1, fields)
    off_sale = mongo_upsert_versioned(col, "MAL-1", 2, {**fields, "active": False, "keywords": ["beach"]})
    replayed = mongo_upsert_versioned(col, "MAL-1", 1, fields)  # older: ignored
    return [first, off_sale, replayed, _read(col.find_one({"_id": "MAL-1"}))]


def _unique_code(col):
    col.create_index([("code", ASCENDING)], unique=True, name="code_unique")
    col.create_index([("active", ASCENDING), ("start", ASCENDING)], name="active_start")
    try:
        col.insert_one({"_id": "OTHER", "code": "MAL-1"})
    except DuplicateKeyError:
        return "duplicate"
    return "accepted"


SHAPES = [
    Shape("find_one by _id", lambda c: [_read(c.find_one({"_id": "ALP-1"})), c.find_one({"_id": "NOPE"})], DOCS),
    Shape("versioned upsert of a trip document", _upsert_document),
    Shape(
        "find _id $in with projection (reconciler)",
        lambda c: sorted(
            (d["_id"], d.get("version"), bool(d.get("deleted")))
            for d in c.find({"_id": {"$in": ["MAL-1", "ALP-1", "NOPE"]}}, {"version": 1, "deleted": 1})
        ),
        DOCS,
    ),
    Shape("unique index on code", _unique_code, DOCS),
]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_bookings_shape_behaves_the_same_on_both_engines(shape: Shape) -> None:
    nx_result, mock_result = conformance_compare(shape, mongo_db())
    assert nx_result[0] == "ok", nx_result
    assert nx_result == mock_result
