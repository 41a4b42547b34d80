"""Content documents of accounts in MongoDB: one profile per user.

The document is written only by the outbox applier (accounts/sync.py), keyed by the
user id and guarded by `version` (= User.profile_version), so replays and
out-of-order deliveries are harmless. Reads go through accounts.selectors.
"""

from __future__ import annotations

from mongoengine import BooleanField, DictField, Document, IntField, StringField

from taskforge.mongo import CONTENT_ALIAS

THEMES = ("light", "dark", "system")
CADENCES = ("immediate", "hourly", "daily", "weekly")
DEFAULT_PREFERENCES: dict = {
    "theme": "system",
    "channels": {"email": True, "in_app": True},
    "email_cadence": "immediate",
    "time_zone": "UTC",  # an IANA name (zoneinfo); dates are entered and shown in it
}


class Profile(Document):
    """A user's profile: names, bio, avatar file name and preferences (`_id` = user id).

    An erased user's document is a tombstone: `deleted: true`, a version, nothing else.
    """

    user_id = IntField(primary_key=True)
    version = IntField(default=0)
    first_name = StringField(max_length=100, default="")
    last_name = StringField(max_length=100, default="")
    bio = StringField(max_length=2000, default="")
    avatar = StringField(max_length=100, default="")  # file name under MEDIA_ROOT/avatars/
    preferences = DictField(default=lambda: dict(DEFAULT_PREFERENCES))
    updated_at = StringField(default="")  # ISO 8601, UTC (a string: see accounts/sync.py)
    deleted = BooleanField(default=False)

    meta = {"db_alias": CONTENT_ALIAS, "collection": "profiles", "indexes": [], "auto_create_index": False}


# The outbox aggregate of profiles: recorded by accounts/services/profile.py (and erasure.py),
# applied by accounts/sync.py.
PROFILE_AGGREGATE = "profile"

# Fields of a profile document besides _id/version (the tombstone unsets them).
PROFILE_FIELDS = ("first_name", "last_name", "bio", "avatar", "preferences", "updated_at")


def profile_collection():
    return Profile._get_collection()
