"""Outbox appliers of the accounts app.

* Profiles: PostgreSQL (User.profile_version + outbox row) -> MongoDB. The payload is the
  whole document at that version, so applying is idempotent and order-proof
  (mongo_upsert_versioned writes only newer versions). An erasure is a versioned
  tombstone: the personal fields are removed and `deleted` is set.
* Personal-data erasure of the task documents (recorded by accounts.export._tasks_erase
  inside the erasure transaction): after the commit, the person's own notifications are
  deleted and the texts found by id (their comments, notifications their actions caused)
  get their already-scrubbed versions. Every step is idempotent.
"""

from __future__ import annotations

from typing import Any

from accounts.documents import PROFILE_AGGREGATE, PROFILE_FIELDS, profile_collection
from sync.handlers import outbox_handler
from sync.models import OutboxEvent
from sync.stores import mongo_tombstone_versioned, mongo_upsert_versioned


def profile_document_fields(payload: dict[str, Any]) -> dict[str, Any]:
    # updated_at stays an ISO string and "not deleted" is the absence of `deleted`:
    # nx-27017 turns a $set datetime into a string and a $set boolean into 1 on upserts
    # (test_conformance_accounts.py), so only portable values are written.
    return {field: payload.get(field) for field in PROFILE_FIELDS if field in payload}


@outbox_handler(PROFILE_AGGREGATE)
def profile_apply(event: OutboxEvent) -> None:
    from accounts.selectors import profile_invalidate

    user_id = int(event.aggregate_id)
    payload = event.payload or {}
    collection = profile_collection()
    if payload.get("deleted"):
        # An erasure: the avatar file goes with the document (read before the tombstone).
        old = collection.find_one({"_id": user_id}, {"avatar": 1, "version": 1}) or {}
        if mongo_tombstone_versioned(collection, user_id, event.version, unset=PROFILE_FIELDS) and old.get("avatar"):
            from accounts.services.avatars import avatar_file_delete

            avatar_file_delete(old["avatar"])
    else:
        mongo_upsert_versioned(collection, user_id, event.version, profile_document_fields(payload))
    profile_invalidate(user_id)


ERASURE_AGGREGATE = "personal_data_erasure"


@outbox_handler(ERASURE_AGGREGATE)
def erasure_apply(event: OutboxEvent) -> None:
    try:
        from tasks import documents as task_documents
    except ImportError:
        return
    payload = event.payload or {}
    user_id = int(payload["user_id"])
    notifications = task_documents.notifications()
    comments = task_documents.comments()
    notifications.delete_many({"user_id": user_id})
    # The id AND the person: a document re-used or re-assigned meanwhile is left alone.
    for change in payload.get("comments") or []:
        comments.update_one({"_id": change["id"], "author_id": user_id}, {"$set": change["set"]})
    for change in payload.get("notifications") or []:
        notifications.update_one({"_id": change["id"], "actor_id": user_id}, {"$set": change["set"]})
