"""Demo data: users and the Ops/Field teams, safe to run twice."""

from __future__ import annotations

import io

import pytest

from accounts.models import CapabilityGrant, Membership, RolePermission, Team
from accounts.seed import demo_logins, seed_demo
from taskforge.dbcontext import DbContext, db_context

pytestmark = pytest.mark.django_db


def _state() -> set[tuple[str, str, str]]:
    return set(Membership.objects.values_list("team__slug", "user__email", "role"))


def test_seed_creates_the_demo_teams_idempotently() -> None:
    with db_context(DbContext(role="system", user_agent="test")):
        seed_demo(io.StringIO())
        first = _state()
        seed_demo(io.StringIO())
    assert (
        _state()
        == first
        == {
            ("ops", "sam@taskforge.local", "admin"),
            ("ops", "kim@taskforge.local", "member"),
            ("ops", "gail@taskforge.local", "guest"),
            ("field", "kim@taskforge.local", "admin"),
        }
    )
    assert Team.objects.get(slug="ops").name == "Ops"
    assert RolePermission.objects.filter(team__slug="ops").count() == 16


def test_seed_grants_the_demo_capabilities() -> None:
    """sam: booking desk and catalogue editor; kim: none; admin: site admin; rita: reports."""
    with db_context(DbContext(role="system", user_agent="test")):
        seed_demo(io.StringIO())
        seed_demo(io.StringIO())
    grants = set(CapabilityGrant.objects.values_list("user__email", "capability"))
    assert grants == {
        ("admin@taskforge.local", "site_admin"),
        ("sam@taskforge.local", "booking_desk"),
        ("sam@taskforge.local", "catalogue_editor"),
        ("rita@taskforge.local", "reports_reader"),
    }
    logins = dict(demo_logins())
    assert "no site capability" in logins["kim@taskforge.local"] and "booking desk" in logins["sam@taskforge.local"]
