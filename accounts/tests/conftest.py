"""Fixtures of the accounts tests: the five personas and a team for them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.hashers import Argon2PasswordHasher
from django.test import Client

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
    team: Any
    other_team: Any
    team_admin: Any  # team creator, admin of `team`
    member: Any  # member of `team`, no site capability
    guest: Any  # guest of `team`, no site capability
    outsider: Any  # team creator, admin of `other_team` only
    traveller: Any
    site_admin: Any  # site admin, in no team


@pytest.fixture
def world(make_user) -> World:
    from accounts.models import Membership
    from accounts.services.teams import team_create

    team_admin = make_user("team_creator", display_name="Tess Admin")
    member = make_user("member", display_name="Milo Member")
    guest = make_user("member", display_name="Gus Guest")
    outsider = make_user("team_creator", display_name="Olga Outsider")
    traveller = make_user("traveller", email_verified=True, display_name="Trav Eller")
    site_admin = make_user("admin", display_name="Sid Admin", email_verified=True)
    team = team_create(user=team_admin, name="Rescue Squad", slug="rescue")
    other = team_create(user=outsider, name="Other Crew", slug="other-crew")
    Membership.objects.create(team=team, user=member, role="member")
    Membership.objects.create(team=team, user=guest, role="guest")
    return World(team, other, team_admin, member, guest, outsider, traveller, site_admin)


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
