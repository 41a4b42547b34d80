"""The permission catalogue and the one function every service uses to check it (team
permissions), and the one check of a site capability."""

from __future__ import annotations

from typing import Any

from django.core.cache import cache
from django.core.exceptions import PermissionDenied

from accounts.models import Membership, RolePermission

# Catalogue: permission -> description.
PERMISSIONS: dict[str, str] = {
    "task.view": "See the team's tasks, boards and dashboard",
    "task.create": "Create tasks",
    "task.edit_own": "Edit tasks one created or is assigned to",
    "task.edit_any": "Edit any task of the team",
    "task.delete": "Delete tasks",
    "task.assign": "Assign tasks to team members",
    "comment.create": "Comment on tasks",
    "comment.moderate": "Edit or delete anyone's comments",
    "team.invite": "Invite people to the team",
    "team.manage": "Change roles, remove members, edit role permissions",
}

DEFAULT_ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": frozenset(PERMISSIONS),
    "member": frozenset({"task.view", "task.create", "task.edit_own", "task.assign", "comment.create"}),
    "guest": frozenset({"task.view"}),
}


def _cache_key(team_id: int) -> str:
    return f"teamperms:{team_id}"


def team_role_permissions(team_id: int) -> dict[str, frozenset[str]]:
    """role -> permissions for a team (cached; invalidated by permissions_invalidate)."""
    cached = cache.get(_cache_key(team_id))
    if cached is not None:
        return {role: frozenset(perms) for role, perms in cached.items()}

    table: dict[str, set[str]] = {role: set() for role in DEFAULT_ROLE_PERMISSIONS}
    rows = list(RolePermission.objects.filter(team_id=team_id).values_list("role", "permission"))
    if not rows:
        result = dict(DEFAULT_ROLE_PERMISSIONS)
    else:
        for role, perm in rows:
            table.setdefault(role, set()).add(perm)
        result = {role: frozenset(perms) for role, perms in table.items()}
    cache.set(_cache_key(team_id), {r: sorted(p) for r, p in result.items()}, 3600)
    return result


def permissions_invalidate(team_id: int) -> None:
    cache.delete(_cache_key(team_id))


def membership_role(user: Any, team_id: int) -> str | None:
    """The user's role in the team, or None for outsiders (memoised on the user object per request)."""
    if user is None or not user.is_authenticated:
        return None
    memo = user.__dict__.setdefault("_team_roles", {})
    if team_id not in memo:
        memo[team_id] = (
            Membership.objects.filter(team_id=team_id, user_id=user.pk).values_list("role", flat=True).first()
        )
    return memo[team_id]


def permission_has(user: Any, team_id: int, permission: str) -> bool:
    """The one permission check: does `user` hold `permission` in team `team_id`?"""
    if permission not in PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}")
    # Team permissions come from the membership alone (no site capability is needed, and none
    # is given); a deactivated account keeps none, whatever memberships remain.
    if user is None or not user.is_active:
        return False
    role = membership_role(user, team_id)
    if role is None:
        return False
    return permission in team_role_permissions(team_id).get(role, frozenset())


def permission_holders(team_id: int, permission: str) -> frozenset[int]:
    """Everyone who holds `permission` in the team: permission_has's rule for a whole team at
    once (active accounts, their membership role, the team's role table), in one query. For
    fan-out (live events), where asking per person would cost a query per open stream."""
    if permission not in PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}")
    roles = {role for role, perms in team_role_permissions(team_id).items() if permission in perms}
    rows = Membership.objects.filter(team_id=team_id, role__in=roles, user__is_active=True)
    return frozenset(rows.values_list("user_id", flat=True))


def capability_has(user: Any, capability: str) -> bool:
    """The one capability check: does `user` (anyone, signed in or not) hold a site capability?"""
    return user is not None and user.is_authenticated and user.has_capability(capability)


def permission_require(user: Any, team_id: int, permission: str) -> None:
    """Raise PermissionDenied unless the user holds the permission (callers map outsiders to 404 first)."""
    if not permission_has(user, team_id, permission):
        raise PermissionDenied(f"you need the {permission!r} permission in this team")
