"""Reads of the accounts app: profiles (cached), teams, members, sessions, invitations.

Other apps use:
* profile_get(user_id) -> dict | None: the profile (defaults if never saved), or None
  while the document server is unavailable (show "details pending");
* profile_preferences(user_id) -> dict: {"theme": "light"|"dark"|"system",
  "channels": {"email": bool, "in_app": bool}, "email_cadence":
  "immediate"|"hourly"|"daily"|"weekly", "time_zone": an IANA name}; defaults when the
  profile is unavailable;
* time_zone_valid(name) -> bool: whether a time zone name is one zoneinfo knows;
* notification_preferences(user_id) -> mail.preferences.Preferences | None: the one typed
  reading of the notification preferences (mail and tasks), None while unreadable.
The profile itself is accounts.models.Profile (MongoDB; `profile_document` reads it by `_id`).
"""

from __future__ import annotations

import copy
import functools
import logging
import time
import zoneinfo
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Q, QuerySet
from django.http import Http404
from django.urls import reverse
from django.utils import timezone

from accounts.models import (
    CADENCES,
    THEMES,
    ApiToken,
    Capability,
    CapabilityGrant,
    Invitation,
    Membership,
    NotificationChannels,
    Profile,
    ProfilePreferences,
    Team,
    TeamRole,
    User,
    UserSession,
)
from accounts.permissions import membership_role, permission_has
from accounts.presence import presence_active
from mail.preferences import Preferences
from taskforge.mongo import DocumentStoreUnavailable, document_store

logger = logging.getLogger(__name__)

PROFILE_CACHE_SECONDS = 3600
# After the document server failed, skip it for a few seconds (per process): every page
# reads the profile for its theme, and each attempt would otherwise wait for the timeout.
MONGO_RETRY_SECONDS = 5.0
_mongo_down_until = 0.0


def profile_breaker_reset() -> None:
    global _mongo_down_until
    _mongo_down_until = 0.0


# The shape of the cached profile: bump it whenever the dict changes, so a profile cached by
# the previous release (without time_zone, say) is never read by this one.
PROFILE_CACHE_SHAPE = 2


def _profile_key(user_id: int) -> str:
    return f"user:profile:v{PROFILE_CACHE_SHAPE}:{user_id}"


def profile_invalidate(user_id: int) -> None:
    cache.delete(_profile_key(user_id))


@functools.cache
def time_zones() -> frozenset[str]:
    """The IANA time zone names this machine's zoneinfo knows."""
    return frozenset(zoneinfo.available_timezones())


def time_zone_valid(name: Any) -> bool:
    return isinstance(name, str) and name in time_zones()


def _preferences(*, theme: Any, email: Any, in_app: Any, email_cadence: Any, time_zone: Any) -> dict[str, Any]:
    """The preferences as the plain dict other apps and the cache use; a missing or unknown
    value reads as ProfilePreferences' default."""
    default = ProfilePreferences()
    return {
        "theme": theme if theme in THEMES else default.theme,
        "channels": {
            "email": email if isinstance(email, bool) else default.channels.email,
            "in_app": in_app if isinstance(in_app, bool) else default.channels.in_app,
        },
        "email_cadence": email_cadence if email_cadence in CADENCES else default.email_cadence,
        "time_zone": time_zone if time_zone_valid(time_zone) else default.time_zone,
    }


def preferences_default() -> dict[str, Any]:
    """The preferences of a person who never saved any."""
    return preferences_as_dict(None)


def preferences_as_dict(prefs: ProfilePreferences | None) -> dict[str, Any]:
    """A profile's embedded preferences as a plain dict (a tombstone has none: defaults)."""
    prefs = prefs or ProfilePreferences()
    channels = prefs.channels or NotificationChannels()
    return _preferences(
        theme=prefs.theme,
        email=channels.email,
        in_app=channels.in_app,
        email_cadence=prefs.email_cadence,
        time_zone=prefs.time_zone,
    )


def preferences_normalise(raw: Any) -> dict[str, Any]:
    """Preferences given as a dict (an outbox payload, a service's changes), every key
    present and valid."""
    raw = raw if isinstance(raw, dict) else {}
    channels = raw.get("channels") if isinstance(raw.get("channels"), dict) else {}
    return _preferences(
        theme=raw.get("theme"),
        email=channels.get("email"),
        in_app=channels.get("in_app"),
        email_cadence=raw.get("email_cadence"),
        time_zone=raw.get("time_zone"),
    )


def avatar_url(name: str) -> str:
    return reverse("accounts:avatar", args=[name]) if name else ""


def profile_from_document(user_id: int, doc: Profile | None) -> dict[str, Any]:
    """The profile as a plain dict (cached in Redis; other apps read it): defaults when the
    person never saved one, empty fields for an erased one."""
    if doc is None:
        return {
            "user_id": user_id,
            "exists": False,
            "deleted": False,
            "version": 0,
            "first_name": "",
            "last_name": "",
            "full_name": "",
            "bio": "",
            "avatar": "",
            "avatar_url": "",
            "preferences": preferences_default(),
        }
    first, last, avatar = doc.first_name or "", doc.last_name or "", doc.avatar or ""
    return {
        "user_id": user_id,
        "exists": not doc.deleted,
        "deleted": bool(doc.deleted),
        "version": doc.version or 0,
        "first_name": first,
        "last_name": last,
        "full_name": f"{first} {last}".strip(),
        "bio": doc.bio or "",
        "avatar": avatar,
        "avatar_url": avatar_url(avatar),
        "preferences": preferences_as_dict(doc.preferences),
    }


def profile_document(user_id: int) -> Profile | None:
    """The profile document by the user's id (the `_id` index), or None if never saved.
    Raises DocumentStoreUnavailable while the document server is down."""
    with document_store():
        return Profile.objects.filter(pk=int(user_id)).first()


def profile_get(user_id: int) -> dict[str, Any] | None:
    """The user's profile (cached in Redis for an hour), or None if the document server is down."""
    global _mongo_down_until
    key = _profile_key(user_id)
    cached = cache.get(key)
    if cached is not None:
        return cached
    if time.monotonic() < _mongo_down_until:
        return None
    try:
        doc = profile_document(user_id)
    except DocumentStoreUnavailable:
        logger.warning("profile %s: document server unavailable", user_id)
        _mongo_down_until = time.monotonic() + MONGO_RETRY_SECONDS
        return None
    profile = profile_from_document(int(user_id), doc)
    cache.set(key, profile, PROFILE_CACHE_SECONDS)
    return profile


def profile_preferences(user_id: int) -> dict[str, Any]:
    """The user's preferences; the defaults when the profile cannot be read right now."""
    profile = profile_get(user_id)
    return copy.deepcopy(profile["preferences"]) if profile else preferences_default()


def notification_preferences(user_id: int) -> Preferences | None:
    """The one typed reading of a person's notification preferences (mail and tasks use it);
    None while the profile cannot be read, so callers defer rather than guess."""
    profile = profile_get(user_id)
    if profile is None:
        return None
    prefs = profile["preferences"]  # normalised: every key present and valid
    return Preferences(
        email=prefs["channels"]["email"], in_app=prefs["channels"]["in_app"], cadence=prefs["email_cadence"]
    )


# --- teams ---------------------------------------------------------------------------


def teams_for_user(user: User) -> QuerySet[Team]:
    """Teams the user belongs to (all teams for a site admin), with member counts."""
    qs = Team.objects.annotate(member_count=Count("memberships"))
    if not user.is_site_admin:
        qs = qs.filter(memberships__user=user)
    return qs.order_by("name")


def team_for_user(user: User, slug: str) -> Team:
    """The team if the user may see it (member, or site admin); 404 for everyone else."""
    team = Team.objects.filter(slug=slug).first()
    if team is None or not (user.is_site_admin or membership_role(user, team.pk) is not None):
        raise Http404("no such team")
    return team


def team_members(team: Team) -> list[dict[str, Any]]:
    """Members with role and presence (active in the last 5 minutes), admins first."""
    rows = list(
        Membership.objects.filter(team=team)
        .select_related("user")
        .order_by("role", "user__display_name", "user__email")
    )
    active = presence_active([m.user_id for m in rows])
    order = {TeamRole.ADMIN: 0, TeamRole.MEMBER: 1, TeamRole.GUEST: 2}
    rows.sort(key=lambda m: (order.get(m.role, 9), str(m.user).lower()))
    return [
        {
            "membership": m,
            "user": m.user,
            "role": m.role,
            "online": m.user_id in active,
            "last_active": active.get(m.user_id),
        }
        for m in rows
    ]


def team_admin_count(team_id: int) -> int:
    return Membership.objects.filter(team_id=team_id, role=TeamRole.ADMIN).count()


def team_invitations_pending(team: Team) -> QuerySet[Invitation]:
    return Invitation.objects.filter(
        team=team, accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now()
    ).select_related("invited_by")


def team_capabilities(user: User, team: Team) -> dict[str, bool]:
    return {
        "can_invite": permission_has(user, team.pk, "team.invite"),
        "can_manage": permission_has(user, team.pk, "team.manage"),
        "is_member": membership_role(user, team.pk) is not None,
    }


# --- sessions --------------------------------------------------------------------------


def sessions_active_for_user(user: User) -> QuerySet[UserSession]:
    """Sessions still signed in: not ended, not idle past the timeout, not past the absolute lifetime."""
    now = timezone.now()
    # last_seen is written at most once a minute, hence the minute of slack.
    return UserSession.objects.filter(
        user=user,
        ended_at__isnull=True,
        last_seen_at__gt=now - timedelta(seconds=settings.SESSION_IDLE_SECONDS + 60),
        created_at__gt=now - timedelta(seconds=settings.SESSION_ABSOLUTE_SECONDS),
    ).order_by("-last_seen_at")


def invitation_by_token_hash(token_hash: str) -> Invitation | None:
    return Invitation.objects.select_related("team", "invited_by").filter(token_hash=token_hash).first()


def user_by_email(email: str) -> User | None:
    return User.objects.filter(email__iexact=email.strip()).first()


def memberships_for_user(user: User) -> QuerySet[Membership]:
    return Membership.objects.filter(user=user).select_related("team").order_by("team__name")


def teams_where_last_admin(user: User) -> list[Team]:
    """Teams the user administers alone (they cannot leave or erase their account yet)."""
    admin_team_ids = Membership.objects.filter(user=user, role=TeamRole.ADMIN).values_list("team_id", flat=True)
    return list(
        Team.objects.filter(id__in=admin_team_ids)
        .annotate(admins=Count("memberships", filter=Q(memberships__role=TeamRole.ADMIN)))
        .filter(admins=1)
        .order_by("name")
    )


# --- people and capabilities (site admins) ---------------------------------------------------


@dataclass(frozen=True)
class PersonRow:
    """One person on the People page: who, their capabilities, their teams."""

    user: User
    capabilities: tuple[str, ...]
    teams: tuple[tuple[str, str], ...]  # (team name, team role)

    @property
    def capability_labels(self) -> list[str]:
        return [Capability(c).label for c in self.capabilities]


def people_search(viewer: User, *, query: str = "", page: int = 1, per_page: int = 25) -> tuple[list[PersonRow], bool]:
    """Accounts matching `query` (email or name, case-insensitive), for site admins only."""
    if not viewer.is_site_admin:
        return [], False
    qs = User.objects.filter(erased_at__isnull=True).order_by("email")
    query = query.strip()
    if query:
        qs = qs.filter(Q(email__icontains=query) | Q(display_name__icontains=query))
    offset = (max(page, 1) - 1) * per_page
    users = list(qs[offset : offset + per_page + 1])
    return _person_rows(users[:per_page]), len(users) > per_page


def person_for_admin(viewer: User, user_id: int) -> PersonRow | None:
    """One account for the People page; None (=> 404) for anyone but a site admin."""
    if not viewer.is_site_admin:
        return None
    user = User.objects.filter(pk=user_id, erased_at__isnull=True).first()
    return _person_rows([user])[0] if user is not None else None


def _person_rows(users: list[User]) -> list[PersonRow]:
    ids = [u.pk for u in users]
    caps: dict[int, list[str]] = {}
    for user_id, capability in CapabilityGrant.objects.filter(user_id__in=ids).values_list("user_id", "capability"):
        caps.setdefault(user_id, []).append(capability)
    teams: dict[int, list[tuple[str, str]]] = {}
    for m in Membership.objects.filter(user_id__in=ids).select_related("team").order_by("team__name"):
        teams.setdefault(m.user_id, []).append((m.team.name, m.get_role_display()))
    order = {c: i for i, c in enumerate(Capability.values)}
    return [
        PersonRow(
            user=u,
            capabilities=tuple(sorted(caps.get(u.pk, []), key=order.__getitem__)),
            teams=tuple(teams.get(u.pk, [])),
        )
        for u in users
    ]


def api_tokens_for_user(user: User) -> QuerySet[ApiToken]:
    """The person's tokens that are not revoked (expired ones too, marked), newest first."""
    return ApiToken.objects.filter(user=user, revoked_at__isnull=True).order_by("-created_at", "-pk")
