"""The test personas: one set for every app, matching the site's kinds of people.

Site capabilities and team roles are separate (accounts/models.py): each persona is a
combination of the two. Team roles are in the shared team "x"; "y" is another team whose
work none of them may see. `person_create` makes one (the root conftest's `make_user`
fixture wraps it); models are looked up through the app registry because this package sits
below the accounts app.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps

from taskforge.dbcontext import context_for_system, context_for_user, db_context

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


@contextmanager
def acting(user: Any, **extra: str) -> Iterator[None]:
    """Run the block as `user` would in a request: their database context (RLS, audit actor).
    The one way tests act as a person; `acting(None)` is an anonymous visitor."""
    extra.setdefault("user_agent", "pytest")
    extra.setdefault("request_id", "test-request")
    with db_context(context_for_user(user, **extra)):
        yield


@dataclass
class People:
    """The personas, made: `people.team_member`, ..., the teams `x` (theirs) and `y` (someone
    else's, run by `y_admin`, who is not a persona)."""

    users: dict[str, Any]
    x: Any
    y: Any
    y_admin: Any
    extra: dict[str, Any] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["users"][name]
        except KeyError:
            raise AttributeError(name) from None


def people_create(tag: str = "p", password: str | None = None) -> People:
    """Every persona (anon is None), team x with the team personas in their roles, and team y."""
    team_model = apps.get_model("accounts", "Team")
    membership_model = apps.get_model("accounts", "Membership")
    users = {
        p.name: None if p.kind is None else person_create(p.kind, f"{p.name}-{tag}@example.com", password)
        for p in PERSONAS
    }
    y_admin = person_create("member", f"y-admin-{tag}@example.com", password)
    with db_context(context_for_system("test people_create")):
        x = team_model.objects.create(name="Team X", slug=f"team-x-{tag}")
        y = team_model.objects.create(name="Team Y", slug=f"team-y-{tag}")
        for p in PERSONAS:
            if p.team_role:
                membership_model.objects.create(team=x, user=users[p.name], role=p.team_role)
        membership_model.objects.create(team=y, user=y_admin, role="admin")
    return People(users=users, x=x, y=y, y_admin=y_admin)
