"""Every MongoDB query shape the tasks app uses, run on nx-27017 and mongomock alike.

Divergences found here, which the app therefore avoids:
* booleans: nx-27017 returns a stored true as 1, so the app only tests them for truthiness
  (the tombstone flag) and never groups by them; notification state is a string;
* a datetime given to `$set` comes back from nx-27017 as text ("2026-03-01 09:00:00.25")
  while an inserted one stays a datetime: times written with `$set` (edited_at, read_at,
  updated_at) are stored as ISO strings on purpose, and parsed when read.
"""

from __future__ import annotations

import datetime as dt

import pytest
from pymongo.errors import DuplicateKeyError

from sync.stores import mongo_upsert_versioned
from taskforge.mongo import mongo_db
from taskforge.testing.conformance import Shape, conformance_compare
from tasks.sync import detail_fields

T0 = dt.datetime(2026, 3, 1, 9, 0, 0, 250000, tzinfo=dt.UTC)
ATT = {
    "id": "a1b2",
    "name": "r.pdf",
    "size": 10,
    "content_type": "application/pdf",
    "stored_name": "ff00",
    "uploaded_by": 3,
    "uploaded_at": "2026-03-01T09:00:00+00:00",
}

COMMENTS = [
    {
        "_id": "c1",
        "task_id": "t1",
        "team_id": 1,
        "author_id": 3,
        "body": "first",
        "mentions": [4],
        "attachments": [ATT],
        "created_at": T0,
        "edited_at": None,
    },
    {
        "_id": "c2",
        "task_id": "t1",
        "team_id": 1,
        "author_id": 4,
        "body": "second",
        "mentions": [],
        "attachments": [],
        "created_at": T0 + dt.timedelta(minutes=5),
        "edited_at": None,
    },
    {
        "_id": "c3",
        "task_id": "t2",
        "team_id": 1,
        "author_id": 4,
        "body": "other",
        "mentions": [],
        "attachments": [],
        "created_at": T0 + dt.timedelta(minutes=1),
        "edited_at": None,
    },
]
NOTIFICATIONS = [
    {
        "_id": "n1",
        "user_id": 4,
        "kind": "task_assigned",
        "state": "unread",
        "task_id": "t1",
        "team_id": 1,
        "actor_id": 3,
        "title": "T",
        "message": "m",
        "created_at": T0,
        "read_at": None,
    },
    {
        "_id": "n2",
        "user_id": 4,
        "kind": "task_comment",
        "state": "read",
        "task_id": "t1",
        "team_id": 1,
        "actor_id": 3,
        "title": "T",
        "message": "m",
        "created_at": T0 + dt.timedelta(hours=1),
        "read_at": T0,
    },
    {
        "_id": "n3",
        "user_id": 4,
        "kind": "task_status",
        "state": "unread",
        "task_id": "t2",
        "team_id": 1,
        "actor_id": 3,
        "title": "U",
        "message": "m",
        "created_at": T0 + dt.timedelta(hours=2),
        "read_at": None,
    },
    {
        "_id": "n4",
        "user_id": 5,
        "kind": "task_status",
        "state": "unread",
        "task_id": "t2",
        "team_id": 1,
        "actor_id": 3,
        "title": "U",
        "message": "m",
        "created_at": T0,
        "read_at": None,
    },
]


def _detail_upserts(col):
    payload = {
        "team_id": 1,
        "title": "T",
        "description": "d",
        "tags": ["a", "b"],
        "custom_fields": {"estimate": 2.5, "ship": "2026-03-01", "area": "db"},
        "attachments": [ATT],
    }
    fields = {**detail_fields(payload), "updated_at": "2026-03-01T09:00:00+00:00"}
    first = mongo_upsert_versioned(col, "t1", 1, fields)
    stale = mongo_upsert_versioned(col, "t1", 1, {**fields, "description": "replayed"})
    tomb = {**detail_fields({**payload, "deleted": True}), "updated_at": "2026-03-01T10:00:00+00:00"}
    newer = mongo_upsert_versioned(col, "t1", 3, tomb)
    older = mongo_upsert_versioned(col, "t1", 2, fields)
    doc = col.find_one({"_id": "t1"})
    return [first, stale, newer, older, {**doc, "deleted": bool(doc["deleted"])}]


def _insert_twice(col):
    col.insert_one(dict(NOTIFICATIONS[0], _id="x"))
    try:
        col.insert_one(dict(NOTIFICATIONS[0], _id="x"))
    except DuplicateKeyError:
        return ["duplicate", col.count_documents({"_id": "x"})]
    return ["accepted"]


def _mark_read(col):
    at = T0.isoformat()
    one = col.update_one({"_id": "n1", "user_id": 4, "state": "unread"}, {"$set": {"state": "read", "read_at": at}})
    again = col.update_one({"_id": "n1", "user_id": 4, "state": "unread"}, {"$set": {"state": "read", "read_at": at}})
    wrong_user = col.update_one({"_id": "n3", "user_id": 5, "state": "unread"}, {"$set": {"state": "read"}})
    return [one.modified_count, again.modified_count, wrong_user.modified_count, col.find_one({"_id": "n1"})]


def _comment_edit(col):
    result = col.update_one({"_id": "c2"}, {"$set": {"body": "edited", "mentions": [3], "edited_at": T0.isoformat()}})
    return [result.modified_count, col.find_one({"_id": "c2"})]


def _indexes(col):
    col.create_index([("task_id", 1)])
    col.create_index([("user_id", 1)])
    col.create_index([("user_id", 1), ("created_at", -1)])
    col.insert_one({"_id": "i", "task_id": "t", "user_id": 1, "created_at": T0})
    return col.count_documents({"task_id": "t"})


SHAPES = [
    # task details (tasks/sync.py, selectors.task_page.task_detail_state, selectors.tasks.task_detail_current)
    Shape("detail versioned upserts and tombstone", _detail_upserts),
    Shape("detail find_one by _id", lambda c: c.find_one({"_id": "c1"}), COMMENTS),
    # comments
    Shape("comment insert_one", lambda c: (c.insert_one(dict(COMMENTS[0], _id="new")), c.find_one({"_id": "new"}))[1]),
    Shape(
        "comments of a task, oldest first, limited",
        lambda c: list(c.find({"task_id": "t1"}).sort("created_at", 1).limit(500)),
        COMMENTS,
    ),
    Shape(
        "comment by id within its task",
        lambda c: [c.find_one({"_id": "c1", "task_id": "t1"}), c.find_one({"_id": "c1", "task_id": "t2"})],
        COMMENTS,
    ),
    Shape("comment edit $set", _comment_edit, COMMENTS),
    Shape("comment delete_one", lambda c: [c.delete_one({"_id": "c1"}).deleted_count, c.count_documents({})], COMMENTS),
    Shape(
        "comments of a deleted task delete_many",
        lambda c: [c.delete_many({"task_id": "t1"}).deleted_count, c.count_documents({"task_id": "t1"})],
        COMMENTS,
    ),
    Shape(
        "comment holding an attachment ($elemMatch)",
        lambda c: [
            c.find_one({"task_id": "t1", "attachments": {"$elemMatch": {"id": "a1b2"}}}),
            c.find_one({"task_id": "t1", "attachments": {"$elemMatch": {"id": "zzzz"}}}),
        ],
        COMMENTS,
    ),
    # notifications
    Shape("notification insert once (duplicate _id)", _insert_twice),
    Shape(
        "unread count (ids, limited)",
        lambda c: len(list(c.find({"user_id": 4, "state": "unread"}, {"_id": 1}).limit(10_000))),
        NOTIFICATIONS,
    ),
    Shape(
        "notifications newest first, limited",
        lambda c: list(c.find({"user_id": 4}).sort("created_at", -1).limit(50)),
        NOTIFICATIONS,
    ),
    Shape("mark one read", _mark_read, NOTIFICATIONS),
    Shape(
        "someone else's notification exists?",
        lambda c: [c.find_one({"_id": "n1", "user_id": u}, {"_id": 1}) for u in (4, 5)],
        NOTIFICATIONS,
    ),
    Shape(
        "mark all read",
        lambda c: [
            c.update_many(
                {"user_id": 4, "state": "unread"}, {"$set": {"state": "read", "read_at": "x"}}
            ).modified_count,
            c.count_documents({"state": "unread"}),
        ],
        NOTIFICATIONS,
    ),
    Shape(
        "due-scan ids already notified ($in, _id projection)",
        lambda c: sorted(d["_id"] for d in c.find({"_id": {"$in": ["n1", "n4", "zz"]}}, {"_id": 1})),
        NOTIFICATIONS,
    ),
    Shape("index creation", _indexes),
]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_tasks_shape_behaves_the_same_on_both_engines(shape: Shape) -> None:
    nx_result, mock_result = conformance_compare(shape, mongo_db())
    assert nx_result[0] == "ok", nx_result
    assert nx_result == mock_result


def test_leading_query_fields_have_single_field_indexes() -> None:
    """nx-27017 uses only single-field indexes: the comments of a task and a user's
    notifications (read on every task page and bell) must each have one, or every read
    scans the whole collection (measured: 250 ms per task page at 200,000 comments)."""
    from tasks import documents

    documents._INDEXED.clear()  # ensure them now, whatever an earlier test did to the collections

    def keys(col) -> list[list[str]]:
        return [list(ix["key"]) for ix in col.list_indexes()]

    assert ["task_id"] in keys(documents.comments())
    assert ["user_id"] in keys(documents.notifications())
    assert ["team_id"] in keys(documents.details())
