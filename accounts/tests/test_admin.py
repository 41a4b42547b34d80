"""The Django admin: users, teams, memberships and role permissions, with search and filters."""

from __future__ import annotations

import pytest

from accounts.models import RolePermission, User
from accounts.permissions import permission_has
from accounts.tests.conftest import client_for

pytestmark = pytest.mark.django_db


def test_admin_changelists_search_and_filter(world) -> None:  # noqa: ANN001
    client = client_for(world.site_admin)
    users = client.get("/admin/accounts/user/", {"q": "Milo", "role__exact": "staff"})
    assert users.status_code == 200 and b"Milo Member" in users.content and b"Olga Outsider" not in users.content
    travellers = client.get("/admin/accounts/user/", {"role__exact": "traveller"})
    assert b"Trav Eller" in travellers.content and b"Milo Member" not in travellers.content
    teams = client.get("/admin/accounts/team/", {"q": "rescue"})
    assert b"Rescue Squad" in teams.content and b"Other Crew" not in teams.content
    guests = client.get("/admin/accounts/membership/", {"role__exact": "guest"})
    assert b"Gus Guest" in guests.content and b"Milo Member" not in guests.content
    perms = client.get("/admin/accounts/rolepermission/", {"permission__exact": "team.manage", "q": "rescue"})
    assert perms.status_code == 200 and b"team.manage" in perms.content
    for path in (
        "/admin/accounts/invitation/",
        "/admin/accounts/loginattempt/",
        "/admin/accounts/usersession/",
        "/admin/accounts/erasurerecord/",
        f"/admin/accounts/user/{world.member.pk}/change/",
    ):
        assert client.get(path).status_code == 200, path


def test_admins_create_staff_accounts_with_normalised_unique_emails(world) -> None:  # noqa: ANN001
    client = client_for(world.site_admin)
    data = {
        "email": "Fresh.Staff@Example.com",
        "display_name": "Fresh",
        "role": "staff",
        "password1": "a-good-passphrase",
        "password2": "a-good-passphrase",
        "usable_password": "true",
    }
    response = client.post("/admin/accounts/user/add/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert User.objects.get(email="fresh.staff@example.com").role == "staff"
    again = client.post("/admin/accounts/user/add/", {**data, "email": "FRESH.staff@example.com"})
    assert again.status_code == 200 and b"already exists" in again.content


def test_role_permission_edits_in_the_admin_take_effect(world) -> None:  # noqa: ANN001
    client = client_for(world.site_admin)
    assert not permission_has(world.guest, world.team.pk, "comment.create")
    response = client.post(
        "/admin/accounts/rolepermission/add/", {"team": world.team.pk, "role": "guest", "permission": "comment.create"}
    )
    assert response.status_code == 302
    fresh = User.objects.get(pk=world.guest.pk)
    assert permission_has(fresh, world.team.pk, "comment.create")
    bad = client.post(
        "/admin/accounts/rolepermission/add/", {"team": world.team.pk, "role": "guest", "permission": "root.all"}
    )
    assert bad.status_code == 200 and not RolePermission.objects.filter(permission="root.all").exists()


def test_staff_without_admin_rights_are_kept_out(world) -> None:  # noqa: ANN001
    client = client_for(world.team_admin)
    response = client.get("/admin/accounts/user/")
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    onward = client.get(response["Location"])
    assert onward.status_code == 302 and onward["Location"].startswith("/accounts/login/?next=")
