"""Fixtures of the accounts tests: the shared personas under the names these tests use, and clients."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.hashers import Argon2PasswordHasher
from django.test import Client

from accounts.models import RolePermission
from accounts.permissions import DEFAULT_ROLE_PERMISSIONS
from taskforge.dbcontext import context_for_system, db_context
from taskforge.testing.personas import People, people_create

PASSWORD = "correct-horse-battery"


class FastArgon2PasswordHasher(Argon2PasswordHasher):
    """Argon2 with tiny costs: the same code path, without 100 MB per hash in every test."""

    time_cost = 1
    memory_cost = 256
    parallelism = 1


@pytest.fixture(autouse=True)
def _fast_hasher(settings):
    import accounts.services.signin
    from accounts.selectors import profile_breaker_reset
    from sync.relay import store_pause_clear

    # A test that stopped the document server leaves per-process pauses behind.
    store_pause_clear()
    settings.PASSWORD_HASHERS = ["accounts.tests.conftest.FastArgon2PasswordHasher"]
    accounts.services.signin._dummy_hash = None  # the dummy hash must use the same costs
    profile_breaker_reset()
    yield
    accounts.services.signin._dummy_hash = None
    profile_breaker_reset()


@dataclass
class World:
    """The accounts tests' names for the shared personas (taskforge.testing.personas)."""

    people: People
    team: Any  # team x
    other_team: Any  # team y
    team_admin: Any  # admin of `team`, no site capability
    member: Any  # member of `team`, no site capability
    guest: Any  # guest of `team`, no site capability
    outsider: Any  # admin of `other_team` only
    traveller: Any
    site_admin: Any  # site admin, in no team


@pytest.fixture
def world(db) -> World:
    """Every persona, with the password PASSWORD; teams x and y carry the default role table
    written out, as team_create leaves a new team."""
    people = people_create(f"{time.monotonic_ns()}", password=PASSWORD)
    with db_context(context_for_system("test world")):
        RolePermission.objects.bulk_create(
            RolePermission(team=team, role=role, permission=permission)
            for team in (people.x, people.y)
            for role, permissions in DEFAULT_ROLE_PERMISSIONS.items()
            for permission in sorted(permissions)
        )
    return World(
        people=people,
        team=people.x,
        other_team=people.y,
        team_admin=people.team_admin,
        member=people.team_member,
        guest=people.team_guest,
        outsider=people.y_admin,
        traveller=people.traveller,
        site_admin=people.site_admin,
    )


def client_for(user: Any) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def as_user():
    return client_for


def queued_link(kind: str, *, key: str, user_id: int | None = None, email: str | None = None) -> str:
    """The one-time link of the newest queued email of `kind` (read from the mail outbox)."""
    from mail.models import EmailDelivery, EmailPayload

    deliveries = EmailDelivery.objects.filter(kind=kind).order_by("-id")
    if user_id is not None:
        deliveries = deliveries.filter(user_id=user_id)
    if email is not None:
        deliveries = deliveries.filter(recipient__iexact=email)
    delivery = deliveries.first()
    assert delivery is not None, f"no {kind} email queued"
    url = EmailPayload.objects.get(delivery=delivery).context[key]
    return re.sub(r"^https?://[^/]+", "", url)
