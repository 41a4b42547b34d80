"""Every MongoDB query shape the accounts app uses, on nx-27017 and mongomock alike."""

from __future__ import annotations

import datetime as dt

import pytest

from accounts.documents import PROFILE_FIELDS
from sync.stores import mongo_tombstone_versioned, mongo_upsert_versioned
from taskforge.mongo import mongo_db
from taskforge.testing.conformance import Shape, conformance_compare

T0 = dt.datetime(2026, 3, 1, 9, 30, 0, 250000, tzinfo=dt.UTC)
PROFILE = {
    "_id": 7,
    "version": 2,
    "first_name": "Ada",
    "last_name": "Lovelace",
    "bio": "b",
    "avatar": "a.png",
    "preferences": {"theme": "dark", "channels": {"email": True, "in_app": False}, "email_cadence": "daily"},
    "updated_at": T0.isoformat(),
}


def _upsert_then_read(col):
    fields = {k: v for k, v in PROFILE.items() if k not in ("_id", "version")}
    first = mongo_upsert_versioned(col, 8, 1, fields)
    stale = mongo_upsert_versioned(col, 8, 1, {**fields, "bio": "stale"})
    newer = mongo_upsert_versioned(col, 8, 2, {**fields, "bio": "newer"})
    return [first, stale, newer, col.find_one({"_id": 8})]


def _tombstone(col):
    before = col.find_one({"_id": 7}, {"avatar": 1, "version": 1})
    written = mongo_tombstone_versioned(col, 7, 3, unset=PROFILE_FIELDS)
    older = mongo_upsert_versioned(col, 7, 2, {"first_name": "Back"})  # a late older event
    doc = col.find_one({"_id": 7})
    return [before, written, older, bool(doc.get("deleted")), sorted(doc)]


NOTES = [
    {"_id": "n1", "user_id": 7, "actor_id": 8, "title": "Hi", "message": "Ada Lovelace commented", "created_at": T0},
    {"_id": "n2", "user_id": 8, "actor_id": 7, "title": "x", "message": "Bea commented", "created_at": T0},
    {"_id": "n3", "user_id": 7, "actor_id": 9, "title": "Other", "message": "nothing", "created_at": T0},
]
COMMENTS = [
    {"_id": "c1", "task_id": "t1", "author_id": 7, "body": "I am Ada", "mentions": [], "created_at": T0},
    {"_id": "c2", "task_id": "t1", "author_id": 8, "body": "Thanks Ada", "mentions": [7], "created_at": T0},
]


def _erasure_plan_and_apply(col):
    """tasks.personal_data.tasks_erase reads by id; tasks.personal_data.erasure_apply writes by id."""
    mine = list(col.find({"author_id": 7}, {"body": 1}))
    caused = list(col.find({"actor_id": 7}, {"message": 1}))
    own = [d["_id"] for d in col.find({"user_id": 7}, {"_id": 1})]
    hit = col.update_one({"_id": "c1", "author_id": 7}, {"$set": {"body": "I am Former user 1"}}).modified_count
    miss = col.update_one({"_id": "c2", "author_id": 7}, {"$set": {"body": "x"}}).modified_count
    deleted = col.delete_many({"user_id": 7}).deleted_count
    return [mine, caused, sorted(own), hit, miss, deleted, list(col.find({}).sort("_id", 1))]


SHAPES = [
    Shape("profile find_one by _id", lambda c: c.find_one({"_id": 7}), [PROFILE]),
    Shape("profile find_one missing", lambda c: c.find_one({"_id": 99}), [PROFILE]),
    Shape("profile versioned upsert", _upsert_then_read),
    Shape("profile tombstone with projection read", _tombstone, [PROFILE]),
    Shape("list all documents (erasure search)", lambda c: list(c.find({}).sort("_id", 1)), [PROFILE]),
    Shape("export: find by user sorted by time", lambda c: list(c.find({"user_id": 7}).sort("created_at", 1)), NOTES),
    Shape("erasure by id: comments", _erasure_plan_and_apply, COMMENTS),
    Shape("erasure by id: notifications", _erasure_plan_and_apply, NOTES),
]


def test_the_erasure_shapes_find_by_id_only() -> None:
    nx_result, _ = conformance_compare(SHAPES[-2], mongo_db())
    mine, caused, own, hit, miss, deleted, rest = nx_result[1]
    assert [d["_id"] for d in mine] == ["c1"] and caused == [] and own == [] and (hit, miss, deleted) == (1, 0, 0)
    assert [d["body"] for d in rest] == ["I am Former user 1", "Thanks Ada"]
    nx_result, _ = conformance_compare(SHAPES[-1], mongo_db())
    mine, caused, own, hit, miss, deleted, rest = nx_result[1]
    assert [d["_id"] for d in caused] == ["n2"] and own == ["n1", "n3"] and deleted == 2
    assert [d["_id"] for d in rest] == ["n2"]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_accounts_shapes_behave_the_same_on_both_engines(shape: Shape) -> None:
    nx_result, mock_result = conformance_compare(shape, mongo_db())
    assert nx_result[0] == "ok", nx_result
    assert nx_result == mock_result
