"""The Django admin: users, teams, memberships and role permissions, with search and filters."""

from __future__ import annotations

import pytest

from accounts.models import RolePermission, User
from accounts.permissions import permission_has
from accounts.tests.conftest import client_for

pytestmark = pytest.mark.django_db


def test_admin_changelists_search_and_filter(world, make_user) -> None:
    client = client_for(world.site_admin)
    member, outsider, guest = (u.email.encode() for u in (world.member, world.outsider, world.guest))
    users = client.get("/admin/accounts/user/", {"q": world.member.email})
    assert users.status_code == 200 and member in users.content and outsider not in users.content
    creator = make_user("team_creator")
    creators = client.get("/admin/accounts/user/", {"capability_grants__capability": "team_creator"})
    assert creator.email.encode() in creators.content and member not in creators.content
    teams = client.get("/admin/accounts/team/", {"q": world.team.slug})
    assert world.team.name.encode() in teams.content and world.other_team.name.encode() not in teams.content
    guests = client.get("/admin/accounts/membership/", {"role__exact": "guest"})
    assert guest in guests.content and member not in guests.content
    perms = client.get("/admin/accounts/rolepermission/", {"permission__exact": "team.manage", "q": world.team.slug})
    assert perms.status_code == 200 and b"team.manage" in perms.content
    for path in (
        "/admin/accounts/invitation/",
        "/admin/accounts/loginattempt/",
        "/admin/accounts/usersession/",
        "/admin/accounts/erasurerecord/",
        f"/admin/accounts/user/{world.member.pk}/change/",
    ):
        assert client.get(path).status_code == 200, path


def test_admins_create_accounts_with_normalised_unique_emails_and_no_capability(world) -> None:
    client = client_for(world.site_admin)
    data = {
        "email": "Fresh.Staff@Example.com",
        "display_name": "Fresh",
        "password1": "a-good-passphrase",
        "password2": "a-good-passphrase",
        "usable_password": "true",
    }
    response = client.post("/admin/accounts/user/add/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    fresh = User.objects.get(email="fresh.staff@example.com")
    assert fresh.email_verified and fresh.capabilities == frozenset()  # capabilities: the People page
    again = client.post("/admin/accounts/user/add/", {**data, "email": "FRESH.staff@example.com"})
    assert again.status_code == 200 and b"already exists" in again.content


def test_role_permission_edits_in_the_admin_take_effect(world, django_capture_on_commit_callbacks) -> None:
    client = client_for(world.site_admin)
    assert not permission_has(world.guest, world.team.pk, "comment.create")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/admin/accounts/rolepermission/add/",
            {"team": world.team.pk, "role": "guest", "permission": "comment.create"},
        )
    assert response.status_code == 302
    fresh = User.objects.get(pk=world.guest.pk)
    assert permission_has(fresh, world.team.pk, "comment.create")
    bad = client.post(
        "/admin/accounts/rolepermission/add/", {"team": world.team.pk, "role": "guest", "permission": "root.all"}
    )
    assert bad.status_code == 200 and not RolePermission.objects.filter(permission="root.all").exists()


def test_signed_in_people_without_the_site_admin_capability_get_a_403_not_a_loop(world) -> None:
    """Issue 14 finding 10: /admin/ sent a signed-in non-admin to the admin's login, which sent
    them on to the site's sign-in, which sent a signed-in person back to /admin/: a loop."""
    client = client_for(world.team_admin)
    for path in ("/admin/", "/admin/accounts/user/", "/admin/login/?next=/admin/"):
        response = client.get(path, follow=True)
        assert response.status_code == 403, path
        assert len(response.redirect_chain) <= 1, response.redirect_chain
    anonymous = client_for(None).get("/admin/accounts/user/", follow=True)
    assert anonymous.status_code == 200 and anonymous.redirect_chain[-1][0].startswith("/accounts/login/?next=")


def test_admin_permission_edits_clear_the_cache_after_the_commit(world, django_capture_on_commit_callbacks) -> None:
    """Security review finding 8: clearing the team's cached permission table inside the
    admin's transaction lets a concurrent reader cache the old table again before the
    commit, and it then stays stale for an hour. The clear must run after the commit."""
    from django.core.cache import cache

    from accounts.permissions import _cache_key, team_role_permissions

    client = client_for(world.site_admin)
    old_table = {role: sorted(perms) for role, perms in team_role_permissions(world.team.pk).items()}
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(
            "/admin/accounts/rolepermission/add/",
            {"team": world.team.pk, "role": "guest", "permission": "comment.create"},
        )
        assert response.status_code == 302
        # Before the commit, another request (which cannot see the new row yet) caches the old table.
        cache.set(_cache_key(world.team.pk), old_table, 3600)
    assert callbacks, "the cache must be cleared on commit"
    for callback in callbacks:
        callback()
    assert permission_has(User.objects.get(pk=world.guest.pk), world.team.pk, "comment.create")
    # deleting goes the same way
    row = RolePermission.objects.get(team=world.team, role="guest", permission="comment.create")
    stale = {role: sorted(perms) for role, perms in team_role_permissions(world.team.pk).items()}
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert client.post(f"/admin/accounts/rolepermission/{row.pk}/delete/", {"post": "yes"}).status_code == 302
        cache.set(_cache_key(world.team.pk), stale, 3600)
    for callback in callbacks:
        callback()
    assert not permission_has(User.objects.get(pk=world.guest.pk), world.team.pk, "comment.create")
