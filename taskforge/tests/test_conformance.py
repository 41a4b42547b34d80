"""Generic query shapes of the portable subset, on nx-27017 and mongomock alike.

Known divergences that the application therefore avoids (each has a shape below):
* `$push` of a subdocument (nx-27017 stores it as a JSON string): $set the whole array;
* `$group` by a boolean (nx-27017 returns 1 for true): group by strings.

App-specific shapes live in <app>/tests/test_conformance_<app>.py and use the same runner.
"""

from __future__ import annotations

import datetime as dt

import pytest
from pymongo.errors import DuplicateKeyError

from sync.stores import mongo_upsert_versioned
from taskforge.mongo import mongo_db
from taskforge.testing.conformance import Shape, conformance_compare

T0 = dt.datetime(2026, 1, 1, 12, 0, 0, 123000, tzinfo=dt.UTC)
DOCS = [
    {"_id": "a", "kind": "x", "n": 1, "tags": ["red", "blue"], "when": T0, "subs": [{"k": "p", "v": 1}]},
    {
        "_id": "b",
        "kind": "y",
        "n": 5,
        "tags": ["blue"],
        "when": T0 + dt.timedelta(days=1),
        "subs": [{"k": "q", "v": 2}],
    },
    {"_id": "c", "kind": "x", "n": 9, "tags": [], "when": T0 + dt.timedelta(days=2), "gone": True, "subs": []},
]


def _find(filter_: dict, **kw) -> Shape:
    def run(col):
        cursor = col.find(filter_, **kw).sort("_id", 1)
        return list(cursor)

    return Shape(f"find {filter_}", run, DOCS)


def _versioned(col):
    first = mongo_upsert_versioned(col, "k", 2, {"title": "two"})
    older = mongo_upsert_versioned(col, "k", 1, {"title": "one"})
    same = mongo_upsert_versioned(col, "k", 2, {"title": "again"})
    newer = mongo_upsert_versioned(col, "k", 3, {"title": "three"})
    return [first, older, same, newer, col.find_one({"_id": "k"})]


def _dup(col):
    col.insert_one({"_id": "z"})
    try:
        col.insert_one({"_id": "z"})
    except DuplicateKeyError:
        return "duplicate"
    return "accepted"


SHAPES = [
    _find({"kind": "x"}),
    _find({"kind": {"$in": ["x", "y"]}, "n": {"$gte": 5}}),
    _find({"kind": {"$nin": ["y"]}}),
    _find({"n": {"$gt": 1, "$lt": 9}}),
    _find({"gone": {"$exists": False}}),
    _find({"$or": [{"n": 1}, {"n": 9}]}),
    _find({"$and": [{"kind": "x"}, {"n": {"$lte": 1}}]}),
    _find({"tags": "blue"}),
    _find({"subs": {"$elemMatch": {"k": "q", "v": {"$gte": 2}}}}),
    _find({"kind": {"$regex": "^X", "$options": "i"}}),
    _find({"when": {"$gte": T0 + dt.timedelta(hours=1)}}),
    _find({}, projection={"kind": 1, "n": 1}),
    Shape("sort skip limit", lambda c: list(c.find({}).sort([("n", -1)]).skip(1).limit(1)), DOCS),
    Shape("count_documents", lambda c: c.count_documents({"kind": "x"}), DOCS),
    Shape(
        "update $set $unset $inc",
        lambda c: (
            c.update_one(
                {"_id": "a"}, {"$set": {"kind": "z"}, "$unset": {"when": ""}, "$inc": {"n": 2}}
            ).modified_count,
            c.find_one({"_id": "a"}),
        ),
        DOCS,
    ),
    Shape(
        "update $push $addToSet $pull scalars",
        lambda c: (
            c.update_one({"_id": "a"}, {"$push": {"tags": "pink"}}),
            c.update_one({"_id": "a"}, {"$addToSet": {"tags": "green"}}),
            c.update_one({"_id": "a"}, {"$pull": {"tags": "red"}}),
            c.find_one({"_id": "a"}),
        )[3],
        DOCS,
    ),
    # nx-27017 stores a $push-ed subdocument as a JSON string, so the application
    # never pushes subdocuments: it $sets the whole array (this shape).
    Shape(
        "update $set array of subdocuments",
        lambda c: (
            c.update_one({"_id": "a"}, {"$set": {"subs": [{"k": "p", "v": 1}, {"k": "r", "v": 3}]}}),
            c.find_one({"_id": "a"}),
        )[1],
        DOCS,
    ),
    Shape("update_many", lambda c: c.update_many({"kind": "x"}, {"$set": {"seen": True}}).modified_count, DOCS),
    Shape("delete_many", lambda c: (c.delete_many({"kind": "x"}).deleted_count, c.count_documents({})), DOCS),
    Shape(
        "aggregate match group sum sort",
        lambda c: list(
            c.aggregate(
                [
                    {"$match": {"n": {"$gte": 1}}},
                    {"$group": {"_id": "$kind", "total": {"$sum": "$n"}, "count": {"$sum": 1}}},
                    {"$sort": {"_id": 1}},
                ]
            )
        ),
        DOCS,
    ),
    Shape(
        "aggregate unwind group",
        lambda c: list(
            c.aggregate(
                [{"$unwind": "$tags"}, {"$group": {"_id": "$tags", "count": {"$sum": 1}}}, {"$sort": {"_id": 1}}]
            )
        ),
        DOCS,
    ),
    Shape(
        "aggregate skip limit project",
        lambda c: list(
            c.aggregate([{"$sort": {"n": 1}}, {"$skip": 1}, {"$limit": 1}, {"$project": {"kind": 1, "n": 1}}])
        ),
        DOCS,
    ),
    Shape("aggregate count", lambda c: list(c.aggregate([{"$match": {"kind": "x"}}, {"$count": "total"}])), DOCS),
    Shape("versioned upsert", _versioned),
    Shape("duplicate _id", _dup),
]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_shape_behaves_the_same_on_both_engines(shape: Shape) -> None:
    nx_result, mock_result = conformance_compare(shape, mongo_db())
    assert nx_result[0] == "ok", nx_result
    assert nx_result == mock_result
