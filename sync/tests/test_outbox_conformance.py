"""Every MongoDB query shape the outbox relay and the reconciler use, on nx-27017 and mongomock."""

from __future__ import annotations

import mongomock
import pytest

from sync.stores import mongo_tombstone_versioned, mongo_upsert_versioned, mongo_upsert_versioned_many
from taskforge.mongo import mongo_db
from taskforge.testing.conformance import Shape, conformance_compare

SEED = [
    {"_id": 1, "version": 3, "name": "one"},
    {"_id": 2, "version": 1, "name": "two"},
    {"_id": 3, "version": 2, "deleted": True},
]


def _tombstones(col):
    return [
        mongo_tombstone_versioned(col, 1, 4, unset=("name",)),  # existing document
        mongo_tombstone_versioned(col, 9, 1, unset=("name",)),  # never seen: a bare tombstone
        mongo_tombstone_versioned(col, 2, 1, unset=("name",)),  # stale: no change
        sorted(col.find({}), key=lambda d: d["_id"]),
    ]


def _upsert_unset(col):
    return [mongo_upsert_versioned(col, 2, 5, {"title": "t"}, unset=("name",)), col.find_one({"_id": 2})]


def _many(col, items):
    """The bulk helper; on mongomock, the same writes one by one as the reference.

    mongomock 4.3 cannot run pymongo 4.20's bulk_write at all (UpdateOne passes a `sort`
    argument it does not know), so the reference for the unordered bulk write is its
    definition: each versioned upsert on its own.
    """
    if isinstance(col, mongomock.Collection):
        return sum(mongo_upsert_versioned(col, doc_id, version, fields) for doc_id, version, fields in items)
    return mongo_upsert_versioned_many(col, items)


def _bulk(col):
    written = _many(
        col, [(1, 2, {"name": "stale"}), (2, 2, {"name": "newer"}), (4, 1, {"name": "new"}), (4, 2, {"name": "newer"})]
    )
    return [written, sorted(col.find({}), key=lambda d: d["_id"])]


def _bulk_all_stale(col):
    return [_many(col, [(1, 1, {"name": "x"}), (2, 1, {"name": "y"})]), col.count_documents({})]


SHAPES = [
    Shape("versioned tombstone with $unset", _tombstones, SEED),
    Shape("versioned upsert with $unset", _upsert_unset, SEED),
    Shape("versioned bulk upsert with stale and repeated ids", _bulk, SEED),
    Shape("versioned bulk upsert, all stale", _bulk_all_stale, SEED),
    Shape(
        "reconciler scan: _id $in with version/deleted projection",
        lambda c: sorted(c.find({"_id": {"$in": [1, 3, 7]}}, {"version": 1, "deleted": 1}), key=lambda d: d["_id"]),
        SEED,
    ),
    Shape(
        "reconciler full scan", lambda c: sorted(c.find({}, {"version": 1, "deleted": 1}), key=lambda d: d["_id"]), SEED
    ),
    Shape(
        "reconciler orphan delete",
        lambda c: (c.delete_many({"_id": {"$in": [2, 8]}}).deleted_count, c.count_documents({})),
        SEED,
    ),
]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_outbox_shape_behaves_the_same_on_both_engines(shape: Shape) -> None:
    nx_result, mock_result = conformance_compare(shape, mongo_db())
    assert nx_result[0] == "ok", nx_result
    assert nx_result == mock_result
