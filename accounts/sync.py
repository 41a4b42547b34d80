"""Outbox applier for profiles: PostgreSQL (User.profile_version + outbox row) -> MongoDB.

The payload is the whole document at that version, so applying is idempotent and
order-proof (mongo_upsert_versioned writes only newer versions). An erasure is a
versioned tombstone: the personal fields are removed and `deleted` is set.
"""

from __future__ import annotations

from typing import Any

from accounts.documents import PROFILE_FIELDS, profile_collection
from taskforge.models import OutboxEvent
from taskforge.outbox import mongo_tombstone_versioned, mongo_upsert_versioned, outbox_handler

PROFILE_AGGREGATE = "profile"


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
            from accounts.services import avatar_file_delete

            avatar_file_delete(old["avatar"])
    else:
        mongo_upsert_versioned(collection, user_id, event.version, profile_document_fields(payload))
    profile_invalidate(user_id)
