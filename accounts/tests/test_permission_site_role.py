"""Team permissions belong to active staff: a demoted or deactivated account keeps none."""

from __future__ import annotations

import pytest

from accounts.models import Membership, Team
from accounts.permissions import permission_has

pytestmark = pytest.mark.django_db


@pytest.fixture
def team_admin(make_user):  # noqa: ANN001, ANN201
    user = make_user("staff")
    team = Team.objects.create(name="Perm Team", slug="perm-team")
    Membership.objects.create(team=team, user=user, role="admin")
    return user, team


def test_active_staff_team_admin_holds_team_permissions(team_admin) -> None:  # noqa: ANN001
    user, team = team_admin
    assert permission_has(user, team.pk, "team.manage") is True


def test_staff_demoted_to_traveller_holds_none(team_admin) -> None:  # noqa: ANN001
    user, team = team_admin
    user.role = "traveller"
    user.save(update_fields=["role"])
    assert permission_has(user, team.pk, "task.view") is False
    assert permission_has(user, team.pk, "team.manage") is False


def test_deactivated_staff_holds_none(team_admin) -> None:  # noqa: ANN001
    user, team = team_admin
    user.is_active = False
    assert permission_has(user, team.pk, "task.view") is False
