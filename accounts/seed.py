"""Demo accounts and teams. Passwords are for the local demo only and printed by `make run`."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from accounts.models import Membership, Role, RolePermission, Team, TeamRole, User
from accounts.permissions import DEFAULT_ROLE_PERMISSIONS, permissions_invalidate

DEMO_PASSWORD = "demo-pass-2026"  # noqa: S105 - the local demo only, printed by `make run`
DEMO_USERS = [
    ("admin@taskforge.local", "Ada Admin", Role.ADMIN),
    ("sam@taskforge.local", "Sam Staff", Role.STAFF),
    ("kim@taskforge.local", "Kim Staff", Role.STAFF),
    ("tara@example.com", "Tara Traveller", Role.TRAVELLER),
    ("theo@example.com", "Theo Traveller", Role.TRAVELLER),
]
# slug -> (name, [(email, team role)])
DEMO_TEAMS = {
    "ops": ("Ops", [("sam@taskforge.local", TeamRole.ADMIN), ("kim@taskforge.local", TeamRole.MEMBER)]),
    "field": ("Field", [("kim@taskforge.local", TeamRole.ADMIN)]),
}


def seed_demo(stdout: Any) -> None:
    for email, name, role in DEMO_USERS:
        user = User.objects.filter(email__iexact=email).first()
        if user is None:
            if role == Role.ADMIN:
                user = User.objects.create_superuser(email, DEMO_PASSWORD, display_name=name)
            else:
                user = User.objects.create_user(email, DEMO_PASSWORD, display_name=name, role=role, is_staff=False)
            user.email_verified = True
            user.save(update_fields=["email_verified"])
            stdout.write(f"created {role} {email}")
    for slug, (name, members) in DEMO_TEAMS.items():
        with transaction.atomic():
            team, created = Team.objects.get_or_create(slug=slug, defaults={"name": name})
            if created:
                team.created_by = User.objects.filter(email__iexact=members[0][0]).first()
                team.save(update_fields=["created_by"])
                stdout.write(f"created team {name}")
            if not RolePermission.objects.filter(team=team).exists():
                RolePermission.objects.bulk_create(
                    RolePermission(team=team, role=role, permission=perm)
                    for role, perms in DEFAULT_ROLE_PERMISSIONS.items()
                    for perm in sorted(perms)
                )
            for email, team_role in members:
                user = User.objects.get(email__iexact=email)
                Membership.objects.get_or_create(team=team, user=user, defaults={"role": team_role})
        permissions_invalidate(team.pk)
