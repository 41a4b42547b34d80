"""The test personas: one set for every app, matching the site's kinds of people.

Site capabilities and team roles are separate (accounts/models.py): each persona is a
combination of the two. Team roles are in the shared team "x"; "y" is another team whose
work none of them may see. `person_create` makes one (the root conftest's `make_user`
fixture wraps it); models are looked up through the app registry because this package sits
below the accounts app.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.apps import apps

from taskforge.dbcontext import context_for_system, db_context

# Capabilities that make_user(kind) grants, by kind. "staff" is the bundle every staff
# account held before capabilities existed (kept for tests of those powers together).
KIND_CAPABILITIES: dict[str, tuple[str, ...]] = {
    "traveller": (),
    "member": (),
    "booking_desk": ("booking_desk",),
    "catalogue_editor": ("catalogue_editor",),
    "reports_reader": ("reports_reader",),
    "team_creator": ("team_creator",),
    "staff": ("booking_desk", "catalogue_editor", "reports_reader", "team_creator"),
    "admin": ("site_admin",),
    "site_admin": ("site_admin",),
}


@dataclass(frozen=True)
class Persona:
    """One actor of the authorization matrix."""

    name: str
    kind: str | None  # make_user kind; None: not signed in
    team_role: str | None = None  # role in team "x"


PERSONAS: tuple[Persona, ...] = (
    Persona("anon", None),
    Persona("traveller", "traveller"),
    Persona("other_traveller", "traveller"),
    Persona("team_guest", "member", "guest"),
    Persona("team_member", "member", "member"),
    Persona("team_admin", "member", "admin"),
    Persona("booking_desk", "booking_desk"),
    Persona("catalogue_editor", "catalogue_editor"),
    Persona("reports_reader", "reports_reader"),
    Persona("site_admin", "site_admin"),
)
ACTORS: tuple[str, ...] = tuple(p.name for p in PERSONAS)


def person_create(kind: str = "traveller", email: str = "", password: str | None = None, **fields: Any) -> Any:
    """A user of `kind` with its capabilities granted (as the system). Travellers are left
    unverified, as after registration; everyone else is verified (made by an admin or an
    invitation). Without a password the account gets an unusable one (use force_login)."""
    user_model = apps.get_model("accounts", "User")
    grant_model = apps.get_model("accounts", "CapabilityGrant")
    fields.setdefault("email_verified", kind != "traveller")
    with db_context(context_for_system("test person_create")):
        user = user_model.objects.create_user(email, password, **fields)
        for capability in KIND_CAPABILITIES[kind]:
            grant_model.objects.create(user=user, capability=capability)
    return user
