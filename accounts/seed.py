"""Demo accounts, their site capabilities and teams. Passwords are for the local demo only
and printed by `make run` (with `manage.py demo_logins`)."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from accounts.models import Capability, CapabilityGrant, Membership, RolePermission, Team, TeamRole, User
from accounts.permissions import DEFAULT_ROLE_PERMISSIONS, permissions_invalidate

DEMO_PASSWORD = "demo-pass-2026"  # noqa: S105 - the local demo only, printed by `make run`
# (email, display name, site capabilities, what the person can do, for the banner)
DEMO_USERS: list[tuple[str, str, tuple[str, ...], str]] = [
    ("admin@taskforge.local", "Ada Admin", (Capability.SITE_ADMIN,),
     "site admin: everything, the Django admin, /people/, /audit/, /system/"),
    ("sam@taskforge.local", "Sam Sato", (Capability.BOOKING_DESK, Capability.CATALOGUE_EDITOR),
     "admin of the Ops team; booking desk and catalogue editor"),
    ("kim@taskforge.local", "Kim Kato", (),
     "member of Ops and admin of Field; no site capability (sees no one else's bookings)"),
    ("gail@taskforge.local", "Gail Guest", (), "guest of Ops: reads its board, changes nothing"),
    ("rita@taskforge.local", "Rita Reyes", (Capability.REPORTS_READER,), "reports reader: revenue, seats, resorts"),
    ("tara@example.com", "Tara Traveller", (), "traveller: catalogue, bookings, waiting lists"),
    ("theo@example.com", "Theo Traveller", (), "traveller"),
]  # fmt: skip
# slug -> (name, [(email, team role)])
DEMO_TEAMS = {
    "ops": (
        "Ops",
        [
            ("sam@taskforge.local", TeamRole.ADMIN),
            ("kim@taskforge.local", TeamRole.MEMBER),
            ("gail@taskforge.local", TeamRole.GUEST),
        ],
    ),
    "field": ("Field", [("kim@taskforge.local", TeamRole.ADMIN)]),
}


def demo_logins() -> list[tuple[str, str]]:
    """(email, what the person can do) for the `make run` banner."""
    return [(email, summary) for email, _name, _caps, summary in DEMO_USERS]


def seed_demo(stdout: Any) -> None:
    for email, name, capabilities, _summary in DEMO_USERS:
        user = User.objects.filter(email__iexact=email).first()
        if user is None:
            user = User.objects.create_user(email, DEMO_PASSWORD, display_name=name, email_verified=True)
            stdout.write(f"created {email}")
        for capability in capabilities:
            CapabilityGrant.objects.get_or_create(user=user, capability=capability)
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
