"""The profile (names, bio, preferences): PostgreSQL holds its version and the outbox event
with the whole new state; the relay writes the MongoDB document (accounts/sync.py)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import CADENCES, PROFILE_AGGREGATE, THEMES, Profile, User
from accounts.selectors import (
    preferences_normalise,
    profile_document,
    profile_from_document,
    profile_invalidate,
    time_zone_valid,
)
from audit.services import audit_content_record
from sync.models import OutboxEvent
from sync.outbox import outbox_record
from taskforge.errors import ServiceError, Unavailable
from taskforge.mongo import DocumentStoreUnavailable


def _state_from_payload(user_id: int, payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "first_name": payload.get("first_name") or "",
        "last_name": payload.get("last_name") or "",
        "bio": payload.get("bio") or "",
        "avatar": payload.get("avatar") or "",
        "preferences": preferences_normalise(payload.get("preferences")),
    }


def _state_from_document(user_id: int, doc: Profile | None) -> dict[str, Any]:
    profile = profile_from_document(user_id, doc)
    return {key: profile[key] for key in ("user_id", "first_name", "last_name", "bio", "avatar", "preferences")}


def profile_state(user: User) -> dict[str, Any]:
    """The profile at user.profile_version: from its outbox event if still there, else the document.

    The newest outbox payload is the truth even before the relay applied it, so a
    second edit while the document server is down builds on the first.
    """
    if user.profile_version == 0:
        return _state_from_document(user.pk, None)
    event = (
        OutboxEvent.objects.filter(
            aggregate_type=PROFILE_AGGREGATE, aggregate_id=str(user.pk), version=user.profile_version
        )
        .values_list("payload", flat=True)
        .first()
    )
    if event is not None and not event.get("deleted"):
        return _state_from_payload(user.pk, event)
    try:
        doc = profile_document(user.pk)
    except DocumentStoreUnavailable:
        raise Unavailable("Profile details are temporarily unavailable. Please try again in a minute.") from None
    return _state_from_document(user.pk, doc)


def profile_write(user: User, *, changes: dict[str, Any]) -> dict[str, Any]:
    """Bump the version, record the outbox event with the full new state, audit the change."""
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        old = profile_state(locked)
        new = {**old, **changes, "user_id": locked.pk}
        # Preferences a change does not name stay as they were.
        new["preferences"] = preferences_normalise({**old["preferences"], **changes.get("preferences", {})})
        version = locked.profile_version + 1
        payload = {**new, "updated_at": timezone.now().isoformat()}
        fields = {"profile_version": version}
        full_name = f"{new['first_name']} {new['last_name']}".strip()
        if full_name and ("first_name" in changes or "last_name" in changes):
            fields["display_name"] = full_name[:150]
        User.objects.filter(pk=locked.pk).update(**fields)
        for name, value in fields.items():
            setattr(user, name, value)
        outbox_record(
            aggregate_type=PROFILE_AGGREGATE,
            aggregate_id=str(locked.pk),
            version=version,
            event_type="profile.updated",
            payload=payload,
        )
        first = locked.profile_version == 0
        audit_content_record(
            table="accounts_profile",
            record_id=str(locked.pk),
            operation="INSERT" if first else "UPDATE",
            old=None if first else old,
            new=new,
        )
        transaction.on_commit(lambda: profile_invalidate(locked.pk))
    return new


def profile_update(
    *,
    user: User,
    first_name: str,
    last_name: str,
    bio: str,
    theme: str,
    notify_email: bool,
    notify_in_app: bool,
    email_cadence: str,
    time_zone: str | None = None,
) -> dict[str, Any]:
    """Save the profile form; `time_zone` None (or empty) keeps the person's time zone."""
    if theme not in THEMES:
        raise ServiceError(f"Theme must be one of {', '.join(THEMES)}.", field="theme")
    if email_cadence not in CADENCES:
        raise ServiceError(f"Email cadence must be one of {', '.join(CADENCES)}.", field="email_cadence")
    if time_zone and not time_zone_valid(time_zone):
        raise ServiceError("Choose a time zone from the list, e.g. Europe/Berlin.", field="time_zone")
    preferences = {
        "theme": theme,
        "channels": {"email": bool(notify_email), "in_app": bool(notify_in_app)},
        "email_cadence": email_cadence,
        **({"time_zone": time_zone} if time_zone else {}),
    }
    return profile_write(
        user,
        changes={
            "first_name": first_name.strip(),
            "last_name": last_name.strip(),
            "bio": bio.strip(),
            "preferences": preferences,
        },
    )


def profile_theme_set(*, user: User, theme: str) -> dict[str, Any]:
    if theme not in THEMES:
        raise ServiceError(f"Theme must be one of {', '.join(THEMES)}.", field="theme")
    with transaction.atomic():
        current = profile_state(User.objects.select_for_update().get(pk=user.pk))
        prefs = {**current["preferences"], "theme": theme}
        return profile_write(user, changes={"preferences": prefs})


STALE_PROFILE = "Your profile was changed since you read it; read it again and re-apply your change."


def profile_patch(*, user: User, changes: dict[str, Any], expected_version: int | None = None) -> dict[str, Any]:
    """Change some of the profile's fields (those of profile_update), the others kept as they
    are in the newest state (under the user's row lock, so a concurrent change is not lost).
    With `expected_version` (User.profile_version as the caller read it), a profile changed
    since is refused with 412 (the API's If-Match)."""
    unknown = set(changes) - PATCHABLE
    if unknown:
        raise ServiceError(f"These cannot be changed here: {', '.join(sorted(unknown))}.")
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        if expected_version is not None and locked.profile_version != expected_version:
            raise ServiceError(STALE_PROFILE, status=412)
        current = profile_state(locked)
        prefs = current["preferences"]
        values = {
            "first_name": current["first_name"],
            "last_name": current["last_name"],
            "bio": current["bio"],
            "theme": prefs["theme"],
            "notify_email": prefs["channels"]["email"],
            "notify_in_app": prefs["channels"]["in_app"],
            "email_cadence": prefs["email_cadence"],
            **changes,
        }
        return profile_update(user=user, **values)


PATCHABLE = frozenset({"first_name", "last_name", "bio", "theme", "notify_email", "notify_in_app", "email_cadence"})
