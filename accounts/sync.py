"""Outbox applier of the accounts app: profiles.

PostgreSQL (User.profile_version + outbox row) -> MongoDB. The payload is the whole
document at that version, so applying is idempotent and order-proof
(mongo_upsert_versioned writes only newer versions). An erasure is a versioned tombstone:
the personal fields are removed and `deleted` is set. (The erasure of other apps'
documents is applied by those apps: tasks/personal_data.py.)
"""

from __future__ import annotations

from typing import Any

from accounts.documents import PROFILE_AGGREGATE, PROFILE_FIELDS, profile_collection
from accounts.selectors import profile_invalidate
from accounts.services.avatars import avatar_file_delete
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
    user_id = int(event.aggregate_id)
    payload = event.payload or {}
    collection = profile_collection()
    if payload.get("deleted"):
        # An erasure: the avatar file goes with the document (read before the tombstone).
        old = collection.find_one({"_id": user_id}, {"avatar": 1, "version": 1}) or {}
        if mongo_tombstone_versioned(collection, user_id, event.version, unset=PROFILE_FIELDS) and old.get("avatar"):
            avatar_file_delete(old["avatar"])
    else:
        mongo_upsert_versioned(collection, user_id, event.version, profile_document_fields(payload))
    profile_invalidate(user_id)
