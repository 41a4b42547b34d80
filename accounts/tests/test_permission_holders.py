"""permission_holders is permission_has for a whole team: the same people, whatever the role
table, memberships and account state say."""

from __future__ import annotations

import pytest

from accounts.models import RolePermission, User
from accounts.permissions import PERMISSIONS, permission_has, permission_holders, permissions_invalidate
from taskforge.dbcontext import context_for_system, db_context

pytestmark = pytest.mark.django_db


def _agree(people, team) -> None:
    for name, user in people.users.items():
        if user is None:
            continue
        user = User.objects.get(pk=user.pk)  # fresh: no memoised roles
        for permission in PERMISSIONS:
            assert (user.pk in permission_holders(team.id, permission)) == permission_has(user, team.id, permission), (
                name,
                permission,
            )


def test_the_holders_are_exactly_those_permission_has_allows(people):
    _agree(people, people.x)
    _agree(people, people.y)
    assert permission_holders(people.x.id, "task.view") >= {people.team_guest.pk, people.team_member.pk}
    assert people.y_admin.pk not in permission_holders(people.x.id, "task.view")


def test_a_custom_role_table_and_a_deactivated_account_count_the_same(people):
    with db_context(context_for_system("test role table")):
        RolePermission.objects.create(team=people.x, role="admin", permission="task.view")
        RolePermission.objects.create(team=people.x, role="member", permission="task.create")
        User.objects.filter(pk=people.team_admin.pk).update(is_active=False)
    permissions_invalidate(people.x.id)
    _agree(people, people.x)
    assert permission_holders(people.x.id, "task.view") == frozenset()  # admin inactive; others lack it


def test_an_unknown_permission_is_a_programming_error(people):
    with pytest.raises(ValueError):
        permission_holders(people.x.id, "task.fly")
