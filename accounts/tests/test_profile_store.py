"""The profile document on the document server (SecantusDB here, MongoDB 7 in production):
the behaviours the accounts app relies on. Typed values (datetimes, booleans, the embedded
preferences), the version-guarded applier, the tombstone, the old documents' migration, and
the hot query (the profile by its user) using an index."""

from __future__ import annotations

import datetime as dt
import importlib
import json
from types import SimpleNamespace
from typing import Any

import pytest
from django.db import connections

from accounts.models import PROFILE_AGGREGATE, NotificationChannels, Profile, ProfilePreferences
from accounts.selectors import notification_preferences, profile_get, profile_invalidate
from accounts.sync import profile_apply
from mail.preferences import Preferences
from sync.handlers import error_is_transient
from sync.models import OutboxEvent
from taskforge.mongo import documents_collection

pytestmark = pytest.mark.django_db

USER_ID = 424242
PAYLOAD = {
    "user_id": USER_ID,
    "first_name": "Ada",
    "last_name": "Lovelace",
    "bio": "Engines.",
    "avatar": "",
    "preferences": {"theme": "dark", "channels": {"email": False, "in_app": True}, "email_cadence": "daily"},
    "updated_at": "2026-03-01T09:30:00.250000+00:00",
}


def _event(version: int, payload: dict[str, Any]) -> OutboxEvent:
    return OutboxEvent(
        aggregate_type=PROFILE_AGGREGATE,
        aggregate_id=str(USER_ID),
        version=version,
        event_type="profile.updated",
        payload=payload,
    )


def _raw() -> dict[str, Any]:
    return documents_collection(Profile).find_one({"_id": USER_ID})


def test_the_document_holds_real_datetimes_booleans_and_the_embedded_preferences() -> None:
    profile_apply(_event(1, PAYLOAD))
    raw = _raw()
    assert raw["updated_at"] == dt.datetime(2026, 3, 1, 9, 30, 0, 250000)  # a BSON date (UTC), not text
    assert raw["deleted"] is False and raw["version"] == 1
    assert raw["preferences"] == {
        "theme": "dark",
        "channels": {"email": False, "in_app": True},
        "email_cadence": "daily",
        "time_zone": "UTC",  # not given: the default
    }
    doc = Profile.objects.get(pk=USER_ID)
    assert doc.updated_at == dt.datetime(2026, 3, 1, 9, 30, 0, 250000, tzinfo=dt.UTC)  # aware through the ORM
    assert isinstance(doc.preferences, ProfilePreferences) and isinstance(
        doc.preferences.channels, NotificationChannels
    )
    assert (doc.preferences.theme, doc.preferences.channels.email, doc.preferences.email_cadence) == (
        "dark",
        False,
        "daily",
    )
    # the embedded fields are queryable through the ORM
    assert list(Profile.objects.filter(preferences__channels__email=False).values_list("pk", flat=True)) == [USER_ID]


def test_the_typed_selector_mail_and_tasks_use() -> None:
    assert notification_preferences(USER_ID) == Preferences(email=True, in_app=True, cadence="immediate")  # never saved
    profile_apply(_event(1, PAYLOAD))
    assert notification_preferences(USER_ID) == Preferences(email=False, in_app=True, cadence="daily")


def test_the_applier_is_idempotent_and_order_proof() -> None:
    profile_apply(_event(2, {**PAYLOAD, "bio": "second"}))
    profile_apply(_event(1, {**PAYLOAD, "bio": "first, late"}))  # an older event delivered after
    profile_apply(_event(2, {**PAYLOAD, "bio": "second, replayed"}))  # a replay of the same version
    raw = _raw()
    assert (raw["version"], raw["bio"]) == (2, "second")
    profile_apply(_event(3, {**PAYLOAD, "bio": "third"}))
    assert (_raw()["version"], _raw()["bio"]) == (3, "third")
    assert Profile.objects.count() == 1


def test_the_erasure_tombstone_keeps_nothing_personal_and_wins_over_late_events() -> None:
    profile_apply(_event(1, PAYLOAD))
    profile_apply(_event(2, {"deleted": True}))
    profile_apply(_event(1, PAYLOAD))  # late
    assert _raw() == {"_id": USER_ID, "version": 2, "deleted": True}
    profile_invalidate(USER_ID)
    profile = profile_get(USER_ID)
    assert profile["deleted"] and not profile["exists"] and profile["full_name"] == "" and profile["bio"] == ""
    assert profile["preferences"]["theme"] == "system"  # the defaults, not a crash on the missing part


def test_an_unknown_stored_value_reads_as_the_default() -> None:
    documents_collection(Profile).insert_one(
        {
            "_id": USER_ID,
            "version": 1,
            "deleted": False,
            "preferences": {"theme": "neon", "channels": {"email": False}, "time_zone": "Mars/Olympus_Mons"},
        }
    )
    prefs = profile_get(USER_ID)["preferences"]
    assert prefs == {
        "theme": "system",
        "channels": {"email": False, "in_app": True},
        "email_cadence": "immediate",
        "time_zone": "UTC",
    }


def test_the_migration_gives_old_documents_real_values() -> None:
    """Documents written under nx-27017: ISO text times, no `deleted`, booleans stored as 0/1."""
    collection = documents_collection(Profile)
    collection.insert_many(
        [
            {
                "_id": USER_ID,
                "version": 4,
                "first_name": "Old",
                "preferences": {"theme": "dark", "channels": {"email": 0, "in_app": 1}, "email_cadence": "hourly"},
                "updated_at": "2025-01-02T03:04:05+00:00",
            },
            {"_id": USER_ID + 1, "version": 2, "deleted": 1},
            {"_id": USER_ID + 2, "version": 1, "updated_at": ""},
        ]
    )
    migration = importlib.import_module("accounts.migrations.0008_profile_typed_values")
    editor = SimpleNamespace(connection=connections["mongodb"])
    migration.typed_values(None, editor)
    migration.typed_values(None, editor)  # running it again changes nothing
    old = collection.find_one({"_id": USER_ID})
    assert old["updated_at"] == dt.datetime(2025, 1, 2, 3, 4, 5) and old["deleted"] is False
    assert old["preferences"]["channels"] == {"email": False, "in_app": True}
    assert collection.find_one({"_id": USER_ID + 1})["deleted"] is True
    assert collection.find_one({"_id": USER_ID + 2})["updated_at"] is None
    doc = Profile.objects.get(pk=USER_ID)
    assert doc.updated_at == dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.UTC) and doc.preferences.channels.email is False


def test_the_collection_migration_keeps_an_existing_collection() -> None:
    """Dev databases already have `profiles` (MongoEngine): the migration must not fail there."""
    migration = importlib.import_module("accounts.migrations.0007_profile_content")
    documents_collection(Profile).insert_one({"_id": USER_ID, "version": 1})
    migration.profiles_collection_create(None, SimpleNamespace(connection=connections["mongodb"]))
    assert documents_collection(Profile).count_documents({}) == 1


def _stages(plan: Any) -> set[str]:
    """Every stage name in an explain plan (nested inputStage/inputStages)."""
    found: set[str] = set()
    if isinstance(plan, dict):
        if "stage" in plan:
            found.add(plan["stage"])
        for value in plan.values():
            found |= _stages(value)
    elif isinstance(plan, list):
        for value in plan:
            found |= _stages(value)
    return found


def test_the_profile_by_its_user_uses_an_index() -> None:
    """The hot query (every page reads the profile for its theme, on a cache miss): the query
    accounts.selectors.profile_document sends, explained by the server."""
    Profile.objects.bulk_create(Profile(user_id=USER_ID + n, version=1) for n in range(50))
    explained = json.loads(Profile.objects.filter(pk=USER_ID + 7).order_by("pk")[:1].explain())
    winning = explained["queryPlanner"]["winningPlan"]
    assert "IXSCAN" in _stages(winning) and "COLLSCAN" not in _stages(winning), winning
    assert explained["executionStats"]["totalDocsExamined"] == 1


def test_an_outage_during_an_erasure_is_retried_without_using_an_attempt(docserver) -> None:
    profile_apply(_event(1, PAYLOAD))
    docserver.stop()
    try:
        with pytest.raises(Exception) as caught:
            profile_apply(_event(2, {"deleted": True}))
        assert error_is_transient(caught.value)
    finally:
        docserver.start()
    assert _raw()["version"] == 1
