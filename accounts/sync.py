"""Outbox applier of the accounts app: profiles.

PostgreSQL (User.profile_version + outbox row) -> MongoDB (accounts.models.Profile). The
payload is the whole document at that version, so applying is idempotent and order-proof:
the version-guarded upsert (sync.stores, on the model's own pymongo collection) writes only
newer versions. An erasure is a versioned tombstone: the personal fields are removed and
`deleted` is set. (The erasure of other apps' documents is applied by those apps:
tasks/personal_data.py.)
"""

from __future__ import annotations

from typing import Any

from django.utils.dateparse import parse_datetime

from accounts.models import PROFILE_AGGREGATE, PROFILE_FIELDS, Profile
from accounts.selectors import preferences_normalise, profile_invalidate
from accounts.services.avatars import avatar_file_delete
from sync.handlers import outbox_handler
from sync.models import OutboxEvent
from sync.stores import mongo_tombstone_versioned, mongo_upsert_versioned
from taskforge.mongo import documents_collection


def profile_document_fields(payload: dict[str, Any]) -> dict[str, Any]:
    """The document's fields from an outbox payload: real datetimes and booleans, and the
    preferences in the shape of ProfilePreferences (every key present and valid)."""
    fields: dict[str, Any] = {
        name: payload[name] for name in ("first_name", "last_name", "bio", "avatar") if name in payload
    }
    if "preferences" in payload:
        fields["preferences"] = preferences_normalise(payload["preferences"])
    if payload.get("updated_at"):
        fields["updated_at"] = parse_datetime(payload["updated_at"])
    fields["deleted"] = False
    return fields


@outbox_handler(PROFILE_AGGREGATE)
def profile_apply(event: OutboxEvent) -> None:
    user_id = int(event.aggregate_id)
    payload = event.payload or {}
    collection = documents_collection(Profile)
    if payload.get("deleted"):
        # An erasure: the avatar file goes with the document (read before the tombstone).
        old = Profile.objects.filter(pk=user_id).values("avatar").first() or {}
        if mongo_tombstone_versioned(collection, user_id, event.version, unset=PROFILE_FIELDS) and old.get("avatar"):
            avatar_file_delete(old["avatar"])
    else:
        mongo_upsert_versioned(collection, user_id, event.version, profile_document_fields(payload))
    profile_invalidate(user_id)
