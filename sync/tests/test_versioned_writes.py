"""The relay's version-guarded writes to the document store (sync/stores.py), on the
suite's document server: a write lands only when the stored version is older, so replays
and out-of-order deliveries change nothing."""

from __future__ import annotations

import uuid

import pytest

from sync.stores import mongo_tombstone_versioned, mongo_upsert_versioned, mongo_upsert_versioned_many
from taskforge.mongo import documents_db

SEED = [
    {"_id": 1, "version": 3, "name": "one"},
    {"_id": 2, "version": 1, "name": "two"},
    {"_id": 3, "version": 2, "deleted": True},
]


@pytest.fixture
def col():
    collection = documents_db()[f"versioned_{uuid.uuid4().hex[:10]}"]
    collection.insert_many([dict(doc) for doc in SEED])
    yield collection
    collection.drop()


def docs(col) -> list[dict]:
    return sorted(col.find({}), key=lambda d: d["_id"])


def test_an_upsert_lands_only_over_an_older_version(col) -> None:
    assert mongo_upsert_versioned(col, "k", 2, {"title": "two"}) is True
    assert mongo_upsert_versioned(col, "k", 1, {"title": "one"}) is False
    assert mongo_upsert_versioned(col, "k", 2, {"title": "again"}) is False
    assert mongo_upsert_versioned(col, "k", 3, {"title": "three"}) is True
    assert col.find_one({"_id": "k"}) == {"_id": "k", "version": 3, "title": "three"}


def test_an_upsert_can_unset_fields(col) -> None:
    assert mongo_upsert_versioned(col, 2, 5, {"title": "t"}, unset=("name",)) is True
    assert col.find_one({"_id": 2}) == {"_id": 2, "version": 5, "title": "t"}


def test_tombstones_are_versioned_too(col) -> None:
    assert mongo_tombstone_versioned(col, 1, 4, unset=("name",)) is True  # an existing document
    assert mongo_tombstone_versioned(col, 9, 1, unset=("name",)) is True  # never seen: a bare tombstone
    assert mongo_tombstone_versioned(col, 2, 1, unset=("name",)) is False  # stale
    assert docs(col) == [
        {"_id": 1, "version": 4, "deleted": True},
        {"_id": 2, "version": 1, "name": "two"},
        {"_id": 3, "version": 2, "deleted": True},
        {"_id": 9, "version": 1, "deleted": True},
    ]


def test_a_bulk_upsert_skips_stale_items_and_keeps_the_newest_of_repeats(col) -> None:
    written = mongo_upsert_versioned_many(
        col, [(1, 2, {"name": "stale"}), (2, 2, {"name": "newer"}), (4, 1, {"name": "new"}), (4, 2, {"name": "newest"})]
    )
    assert written == 3
    assert docs(col) == [
        {"_id": 1, "version": 3, "name": "one"},
        {"_id": 2, "version": 2, "name": "newer"},
        {"_id": 3, "version": 2, "deleted": True},
        {"_id": 4, "version": 2, "name": "newest"},
    ]


def test_a_bulk_upsert_of_only_stale_items_writes_nothing(col) -> None:
    assert mongo_upsert_versioned_many(col, [(1, 1, {"name": "x"}), (2, 1, {"name": "y"})]) == 0
    assert col.count_documents({}) == 3
