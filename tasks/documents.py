"""MongoDB documents of the tasks app: task detail, comments, in-app notifications.

The classes declare the shape and the indexes (MongoEngine); the app reads and writes
through the plain pymongo collection (`collection(...)`) so every query shape is explicit
and listed in tasks/tests/test_conformance_tasks.py. Only the portable subset is used
(DESIGN.md): no `$push` of subdocuments (whole arrays are `$set`), no `$group` by a
boolean (notification state is the string "unread"/"read"), regexes given as strings.
"""

from __future__ import annotations

from typing import Any

from mongoengine import (
    BooleanField,
    DateTimeField,
    DictField,
    Document,
    IntField,
    ListField,
    StringField,
)

from taskforge.mongo import CONTENT_ALIAS, mongo_db


class TaskDetail(Document):
    """The flexible part of a task: markdown description, tags, custom-field values and
    attachment metadata. Written only by the outbox handler (tasks/sync.py), versioned by
    the task row's version; a deleted task leaves a versioned tombstone (`deleted`)."""

    id = StringField(primary_key=True)
    team_id = IntField()
    version = IntField()
    title = StringField()
    description = StringField()
    tags = ListField(StringField())
    custom_fields = DictField()
    attachments = ListField(DictField())
    deleted = BooleanField(default=False)
    updated_at = StringField()  # ISO 8601: times written with $set are text (see the conformance tests)

    meta = {
        "db_alias": CONTENT_ALIAS,
        "collection": "task_details",
        "indexes": ["team_id"],
        "strict": False,
        "auto_create_index": False,
    }


class TaskComment(Document):
    """A comment on a task (MongoDB only; audited through audit_record_content)."""

    id = StringField(primary_key=True)
    task_id = StringField(required=True)
    team_id = IntField()
    author_id = IntField()
    body = StringField()
    mentions = ListField(IntField())
    attachments = ListField(DictField())
    created_at = DateTimeField()
    edited_at = StringField()  # ISO 8601, set by $set on edit

    meta = {
        "db_alias": CONTENT_ALIAS,
        "collection": "task_comments",
        # Single-field: nx-27017 uses only single-field indexes (a compound one is never
        # used, not even for its leading field: 250 ms instead of 2 ms per task page at
        # 200,000 comments); MongoDB sorts a task's few comments in memory.
        "indexes": ["task_id"],
        "strict": False,
        "auto_create_index": False,
    }


class Notification(Document):
    """An in-app notification for one user. `state` is "unread" or "read" (a string, so
    aggregations never group by a boolean); Redis holds the unread count."""

    id = StringField(primary_key=True)
    user_id = IntField(required=True)
    kind = StringField()
    state = StringField(default="unread")
    task_id = StringField()
    team_id = IntField()
    actor_id = IntField()
    title = StringField()
    message = StringField()
    created_at = DateTimeField()
    read_at = StringField()  # ISO 8601, set by $set when read

    meta = {
        "db_alias": CONTENT_ALIAS,
        "collection": "notifications",
        # "user_id" alone serves nx-27017 (single-field indexes only, see TaskComment);
        # MongoDB uses the compound one for the newest-first list.
        "indexes": ["user_id", ("user_id", "-created_at")],
        "strict": False,
        "auto_create_index": False,
    }


_INDEXED: set[str] = set()


def collection(document: type[Document]) -> Any:
    """The pymongo collection behind a document class, its meta indexes ensured once.

    (MongoEngine's own auto-indexing is off: it would remember a collection whose index
    creation failed while the server was down and never retry.) Operations on the
    returned collection raise a PyMongoError (taskforge.mongo.MongoUnavailable) when the
    server is down.
    """
    name = document._get_collection_name()
    coll = mongo_db()[name]
    if name not in _INDEXED:
        for spec in document._meta.get("index_specs") or []:
            coll.create_index(spec["fields"])
        _INDEXED.add(name)
    return coll


def details() -> Any:
    return collection(TaskDetail)


def comments() -> Any:
    return collection(TaskComment)


def notifications() -> Any:
    return collection(Notification)
