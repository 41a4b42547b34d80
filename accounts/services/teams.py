"""Teams: creation (team creators), the role-permission table, members' roles, removal and
leaving. Every action is checked against the team's permissions (accounts.permissions)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils.text import slugify

from accounts.models import Capability, Membership, RolePermission, Team, TeamRole, User
from accounts.permissions import DEFAULT_ROLE_PERMISSIONS, PERMISSIONS, permission_require, permissions_invalidate
from accounts.selectors import team_admin_count
from taskforge.errors import Conflict, Forbidden, NotFound, ServiceError


def team_permission_require(user: User, team_id: int, permission: str) -> None:
    """The team permission check as a refusal (403) for the teams and invitations services."""
    try:
        permission_require(user, team_id, permission)
    except PermissionDenied as exc:
        raise Forbidden(str(exc)) from None


RESERVED_TEAM_SLUGS = {"new"}  # /teams/new/ is the create page


def team_create(*, user: User, name: str, slug: str = "", description: str = "") -> Team:
    """A person with the team-creator capability creates a team, becomes its admin, and the
    role table gets the defaults."""
    if not user.has_capability(Capability.TEAM_CREATOR):
        raise Forbidden("Creating teams needs the team-creator capability; ask a site admin.")
    name = name.strip()
    if not name:
        raise ServiceError("Give the team a name.", field="name")
    slug = slugify(slug.strip() or name)[:140]
    if not slug:
        raise ServiceError("The short name must contain letters or digits.", field="slug")
    if slug in RESERVED_TEAM_SLUGS:
        raise ServiceError(f"“{slug}” is reserved; choose another short name.", field="slug")
    try:
        with transaction.atomic():
            team = Team.objects.create(name=name[:120], slug=slug, description=description.strip(), created_by=user)
            Membership.objects.create(team=team, user=user, role=TeamRole.ADMIN)
            RolePermission.objects.bulk_create(
                RolePermission(team=team, role=role, permission=perm)
                for role, perms in DEFAULT_ROLE_PERMISSIONS.items()
                for perm in sorted(perms)
            )
            transaction.on_commit(lambda: permissions_invalidate(team.pk))
    except IntegrityError:
        raise Conflict(f"A team with the short name “{slug}” already exists.", field="slug") from None
    return team


def role_permissions_set(*, actor: User, team: Team, grants: dict[str, set[str]]) -> None:
    """Replace the team's role -> permissions table (team.manage); admins always keep team.manage."""
    team_permission_require(actor, team.pk, "team.manage")
    unknown_roles = set(grants) - set(TeamRole.values)
    if unknown_roles:
        raise ServiceError(f"Unknown role: {', '.join(sorted(unknown_roles))}.")
    unknown = {perm for perms in grants.values() for perm in perms} - set(PERMISSIONS)
    if unknown:
        raise ServiceError(f"Unknown permission: {', '.join(sorted(unknown))}.")
    if "team.manage" not in grants.get(TeamRole.ADMIN, set()):
        raise ServiceError(
            f"Team admins must keep the permission “{PERMISSIONS['team.manage']}”, or nobody could manage the team."
        )
    with transaction.atomic():
        Team.objects.select_for_update().get(pk=team.pk)
        current = set(RolePermission.objects.filter(team=team).values_list("role", "permission"))
        wanted = {(role, perm) for role in TeamRole.values for perm in grants.get(role, set())}
        for role, perm in current - wanted:
            RolePermission.objects.filter(team=team, role=role, permission=perm).delete()
        RolePermission.objects.bulk_create(
            RolePermission(team=team, role=role, permission=perm) for role, perm in sorted(wanted - current)
        )
        # Now (this request) and again after commit (a reader may have cached the old table meanwhile).
        permissions_invalidate(team.pk)
        transaction.on_commit(lambda: permissions_invalidate(team.pk))


def member_role_change(*, actor: User, team: Team, user_id: int, role: str) -> Membership:
    team_permission_require(actor, team.pk, "team.manage")
    if role not in TeamRole.values:
        raise ServiceError("Choose admin, member or guest.", field="role")
    with transaction.atomic():
        Team.objects.select_for_update().get(pk=team.pk)  # serialises the last-admin check
        membership = Membership.objects.filter(team=team, user_id=user_id).first()
        if membership is None:
            raise NotFound("That person is not a member of this team.")
        if membership.role == TeamRole.ADMIN and role != TeamRole.ADMIN and team_admin_count(team.pk) == 1:
            raise Conflict("A team needs at least one admin: make someone else admin first.")
        if membership.role != role:
            membership.role = role
            membership.save(update_fields=["role"])
    return membership


def member_remove(*, actor: User, team: Team, user_id: int) -> None:
    team_permission_require(actor, team.pk, "team.manage")
    _membership_delete(team=team, user_id=user_id)


def team_leave(*, user: User, team: Team) -> None:
    """Anyone may leave a team, except its last admin."""
    _membership_delete(team=team, user_id=user.pk)


def _membership_delete(*, team: Team, user_id: int) -> None:
    with transaction.atomic():
        Team.objects.select_for_update().get(pk=team.pk)
        membership = Membership.objects.filter(team=team, user_id=user_id).first()
        if membership is None:
            raise NotFound("That person is not a member of this team.")
        if membership.role == TeamRole.ADMIN and team_admin_count(team.pk) == 1:
            raise Conflict("The last admin cannot leave the team: make someone else admin first.")
        membership.delete()
