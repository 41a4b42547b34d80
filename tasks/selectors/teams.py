"""Teams of a person, a team's members and its custom-field definitions."""

from __future__ import annotations

from typing import Any

from django.core.cache import cache
from django.http import Http404

from accounts.models import Membership, Team
from accounts.permissions import permission_has
from tasks.models import TeamCustomField
from tasks.rendering import member_handle


def teams_for_user(user: Any, permission: str = "task.view") -> list[Team]:
    """Teams in which the user holds a permission (one query; roles memoised for permission_has)."""
    if not user.is_authenticated:
        return []
    rows = list(Membership.objects.filter(user_id=user.pk).select_related("team").order_by("team__name"))
    memo = user.__dict__.setdefault("_team_roles", {})
    for m in rows:
        memo[m.team_id] = m.role
    return [m.team for m in rows if permission_has(user, m.team_id, permission)]


def team_for_user(user: Any, team_id: int, permission: str = "task.view") -> Team:
    """The team if the user may see it; Http404 for outsiders (they learn nothing of it)."""
    team = None
    if permission_has(user, team_id, "task.view") and permission_has(user, team_id, permission):
        team = Team.objects.filter(id=team_id).first()
    if team is None:
        raise Http404("No such team.")
    return team


def team_members(team_id: int) -> list[dict[str, Any]]:
    """Members of a team with their role, email and display name (one query)."""
    rows = (
        Membership.objects.filter(team_id=team_id)
        .select_related("user")
        .order_by("user__display_name", "user__email")
        .values("user_id", "role", "user__email", "user__display_name")
    )
    return [
        {
            "id": r["user_id"],
            "role": r["role"],
            "email": r["user__email"],
            "name": r["user__display_name"] or r["user__email"],
            "handle": member_handle(r["user__email"]),
        }
        for r in rows
    ]


def team_members_matching(team_id: int, q: str, *, limit: int = 8) -> list[dict[str, Any]]:
    """@mention suggestions: members whose handle, email or a word of their name starts with q."""
    return [
        m
        for m in team_members(team_id)
        if not q
        or m["handle"].startswith(q)
        or m["email"].lower().startswith(q)
        or any(part.lower().startswith(q) for part in m["name"].split())
    ][:limit]


def team_members_cached(team_id: int) -> list[dict[str, Any]]:
    """Members for filter menus (cached a minute; writes validate against the live list)."""
    key = f"tasks:members:{team_id}"
    members = cache.get(key)
    if members is None:
        members = team_members(team_id)
        cache.set(key, members, 60)
    return members


def custom_fields_for(team_id: int) -> list[TeamCustomField]:
    """The team's custom-field definitions, in their order."""
    return list(TeamCustomField.objects.filter(team_id=team_id))
