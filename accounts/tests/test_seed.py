"""Demo data: users and the Ops/Field teams, safe to run twice."""

from __future__ import annotations

import io

import pytest

from accounts.models import Membership, RolePermission, Team
from accounts.seed import seed_demo
from taskforge.dbcontext import DbContext, db_context

pytestmark = pytest.mark.django_db


def _state() -> set[tuple[str, str, str]]:
    return set(Membership.objects.values_list("team__slug", "user__email", "role"))


def test_seed_creates_the_demo_teams_idempotently() -> None:
    with db_context(DbContext(role="admin", user_agent="test")):
        seed_demo(io.StringIO())
        first = _state()
        seed_demo(io.StringIO())
    assert (
        _state()
        == first
        == {
            ("ops", "sam@taskforge.local", "admin"),
            ("ops", "kim@taskforge.local", "member"),
            ("field", "kim@taskforge.local", "admin"),
        }
    )
    assert Team.objects.get(slug="ops").name == "Ops"
    assert RolePermission.objects.filter(team__slug="ops").count() == 16
