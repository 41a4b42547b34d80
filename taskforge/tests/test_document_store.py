"""The MongoDB behaviours TaskForge relies on, checked against the document server the
suite runs on (SecantusDB; MongoDB 7+ in production). Each test names what depends on it.
These replace the old "portable subset" conformance shapes: there is no subset any more."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from decimal import Decimal

import pytest
from bson.decimal128 import Decimal128
from pymongo.errors import DuplicateKeyError

from taskforge.mongo import documents_db

T0 = dt.datetime(2026, 1, 1, 12, 0, 0, 123000)


@pytest.fixture
def col():
    collection = documents_db()[f"behaviour_{uuid.uuid4().hex[:10]}"]
    yield collection
    collection.drop()


def winning_stages(explain: dict) -> set[str]:
    """Every stage name in the winning plan of an explain() answer."""
    stages: set[str] = set()

    def walk(node: dict) -> None:
        stages.add(node.get("stage", ""))
        for key in ("inputStage", "queryPlan"):
            if isinstance(node.get(key), dict):
                walk(node[key])
        for child in node.get("inputStages", []):
            walk(child)

    walk(explain["queryPlanner"]["winningPlan"])
    return stages


def test_push_of_a_subdocument_stores_a_subdocument(col) -> None:
    # comments' attachments and trips' itineraries are embedded arrays updated in place
    col.insert_one({"_id": 1, "items": []})
    col.update_one({"_id": 1}, {"$push": {"items": {"name": "a.pdf", "size": 3}}})
    assert col.find_one({"_id": 1})["items"] == [{"name": "a.pdf", "size": 3}]


def test_datetime_written_with_set_comes_back_as_a_datetime(col) -> None:
    # edited_at, read_at, updated_at are real datetimes
    col.insert_one({"_id": 1})
    col.update_one({"_id": 1}, {"$set": {"at": T0}})
    assert col.find_one({"_id": 1})["at"] == T0


def test_group_by_a_boolean_keeps_booleans(col) -> None:
    # notification `read` is a real boolean
    col.insert_many([{"read": True}, {"read": False}, {"read": False}])
    groups = {g["_id"]: g["n"] for g in col.aggregate([{"$group": {"_id": "$read", "n": {"$sum": 1}}}])}
    assert groups == {True: 1, False: 2}


def test_replace_one_with_upsert_keeps_the_filter_id(col) -> None:
    col.replace_one({"_id": "trip-1"}, {"name": "Alps"}, upsert=True)
    assert col.find_one({"_id": "trip-1"}) == {"_id": "trip-1", "name": "Alps"}


def test_a_compiled_regex_filter(col) -> None:
    # icontains lookups and the admin's search
    col.insert_many([{"name": "Alpine Lodge"}, {"name": "Beach"}])
    assert [d["name"] for d in col.find({"name": re.compile("alp", re.IGNORECASE)})] == ["Alpine Lodge"]


def test_a_compound_index_serves_a_filter_and_a_sort(col) -> None:
    # a task's comments newest first; a person's notifications
    col.create_index([("task_id", 1), ("created_at", -1)])
    col.insert_many([{"task_id": t % 50, "created_at": T0 + dt.timedelta(minutes=t)} for t in range(500)])
    cursor = col.find({"task_id": 7}).sort("created_at", -1)
    rows = list(cursor.clone())
    assert len(rows) == 10 and rows[0]["created_at"] > rows[-1]["created_at"]
    assert "IXSCAN" in winning_stages(cursor.explain())


def test_count_documents_counts_through_an_index(col) -> None:
    col.create_index([("user_id", 1)])
    col.insert_many([{"user_id": n % 10} for n in range(200)])
    assert col.count_documents({"user_id": 3}) == 20
    assert "IXSCAN" in winning_stages(col.find({"user_id": 3}).explain())


def test_a_partial_unique_index_refuses_only_duplicates_it_covers(col) -> None:
    col.create_index("code", unique=True, partialFilterExpression={"code": {"$type": "string"}})
    col.insert_many([{"code": "A"}, {"code": None}, {"code": None}])
    with pytest.raises(DuplicateKeyError):
        col.insert_one({"code": "A"})


def test_decimal128_round_trips(col) -> None:
    col.insert_one({"_id": 1, "amount": Decimal128(Decimal("1234.50"))})
    assert col.find_one({"_id": 1})["amount"].to_decimal() == Decimal("1234.50")


def test_array_filters_update_one_element(col) -> None:
    col.insert_one({"_id": 1, "items": [{"k": "a", "v": 1}, {"k": "b", "v": 1}]})
    col.update_one({"_id": 1}, {"$set": {"items.$[it].v": 2}}, array_filters=[{"it.k": "b"}])
    assert col.find_one({"_id": 1})["items"] == [{"k": "a", "v": 1}, {"k": "b", "v": 2}]


def test_a_pipeline_update(col) -> None:
    col.insert_one({"_id": 1, "a": 2, "b": 3})
    col.update_one({"_id": 1}, [{"$set": {"total": {"$add": ["$a", "$b"]}}}])
    assert col.find_one({"_id": 1})["total"] == 5


def test_a_duplicate_key_error_carries_mongodbs_code(col) -> None:
    # the relay tells a stale versioned upsert from a real failure by code 11000
    col.insert_one({"_id": "z"})
    with pytest.raises(DuplicateKeyError) as caught:
        col.insert_one({"_id": "z"})
    assert caught.value.code == 11000
    assert "E11000" in str(caught.value)
