"""Every MongoDB query shape the accounts app uses, on nx-27017 and mongomock alike."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from accounts.documents import PROFILE_FIELDS
from taskforge.mongo import mongo_db
from taskforge.outbox import mongo_tombstone_versioned, mongo_upsert_versioned
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


def _upsert_then_read(col):  # noqa: ANN001, ANN202
    fields = {k: v for k, v in PROFILE.items() if k not in ("_id", "version")}
    first = mongo_upsert_versioned(col, 8, 1, fields)
    stale = mongo_upsert_versioned(col, 8, 1, {**fields, "bio": "stale"})
    newer = mongo_upsert_versioned(col, 8, 2, {**fields, "bio": "newer"})
    return [first, stale, newer, col.find_one({"_id": 8})]


def _tombstone(col):  # noqa: ANN001, ANN202
    before = col.find_one({"_id": 7}, {"avatar": 1, "version": 1})
    written = mongo_tombstone_versioned(col, 7, 3, unset=PROFILE_FIELDS)
    older = mongo_upsert_versioned(col, 7, 2, {"first_name": "Back"})  # a late older event
    doc = col.find_one({"_id": 7})
    return [before, written, older, bool(doc.get("deleted")), sorted(doc)]


NOTES = [
    {"_id": "n1", "user_id": 7, "title": "Hi", "message": "Ada Lovelace commented", "created_at": T0},
    {"_id": "n2", "user_id": 8, "title": "ada.l@example.com", "message": "x", "created_at": T0},
    {"_id": "n3", "user_id": 7, "title": "Other", "message": "nothing", "created_at": T0},
]


def _scrub(col):  # noqa: ANN001, ANN202
    pattern = re.escape("ada lovelace")  # as accounts.export escapes the terms (here: "ada\\ lovelace")
    query = {"$or": [{f: {"$regex": pattern, "$options": "i"}} for f in ("title", "message")]}
    found = [d["_id"] for d in col.find(query)]
    email = col.find_one({"title": {"$regex": re.escape("ADA.L@example.com"), "$options": "i"}})
    col.update_one({"_id": "n1"}, {"$set": {"message": "Former user 1 commented"}})
    deleted = col.delete_many({"user_id": 8}).deleted_count
    return [found, deleted, email, list(col.find({}).sort("created_at", 1))]


SHAPES = [
    Shape("profile find_one by _id", lambda c: c.find_one({"_id": 7}), [PROFILE]),
    Shape("profile find_one missing", lambda c: c.find_one({"_id": 99}), [PROFILE]),
    Shape("profile versioned upsert", _upsert_then_read),
    Shape("profile tombstone with projection read", _tombstone, [PROFILE]),
    Shape("list all documents (erasure search)", lambda c: list(c.find({}).sort("_id", 1)), [PROFILE]),
    Shape("export: find by user sorted by time", lambda c: list(c.find({"user_id": 7}).sort("created_at", 1)), NOTES),
    Shape("erasure: $or of escaped $regex, $set text, delete_many", _scrub, NOTES),
]


def test_the_erasure_search_shape_finds_what_it_should() -> None:
    nx_result, _ = conformance_compare(SHAPES[-1], mongo_db())
    found, deleted, email, _rest = nx_result[1]
    assert found == ["n1"] and deleted == 1 and email["_id"] == "n2"


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_accounts_shapes_behave_the_same_on_both_engines(shape: Shape) -> None:
    nx_result, mock_result = conformance_compare(shape, mongo_db())
    assert nx_result[0] == "ok", nx_result
    assert nx_result == mock_result
