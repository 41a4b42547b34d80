"""Teams: creation, roles, leaving, the role-permission table, invitations and presence."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import Invitation, Membership, RolePermission, Team, User
from accounts.permissions import DEFAULT_ROLE_PERMISSIONS, membership_role, permission_has
from accounts.presence import presence_active, presence_touch
from accounts.tests.conftest import client_for, queued_link

pytestmark = pytest.mark.django_db


# --- creating teams ----------------------------------------------------------------------------


def test_team_creators_create_a_team_and_become_its_admin_with_default_permissions(make_user) -> None:
    creator = make_user("team_creator")
    response = client_for(creator).post("/teams/new/", {"name": "Night Shift", "description": "After dark"})
    assert response.status_code == 302 and response["Location"] == "/teams/night-shift/"
    team = Team.objects.get(slug="night-shift")
    assert membership_role(creator, team.pk) == "admin"
    table = {(r, p) for r, p in RolePermission.objects.filter(team=team).values_list("role", "permission")}
    assert table == {(role, perm) for role, perms in DEFAULT_ROLE_PERMISSIONS.items() for perm in perms}


def test_travellers_and_members_without_the_capability_cannot_create_teams(world) -> None:
    for user in (world.traveller, world.member):
        client = client_for(user)
        assert client.get("/teams/new/").status_code == 404
        assert client.post("/teams/new/", {"name": "Sneaky"}).status_code == 404
    assert not Team.objects.filter(name="Sneaky").exists()


def test_team_short_names_are_unique_and_valid(world, make_user) -> None:
    client = client_for(make_user("team_creator"))
    taken = client.post("/teams/new/", {"name": "Rescue", "slug": world.team.slug})
    assert taken.status_code == 409 and b"already exists" in taken.content
    assert client.post("/teams/new/", {"name": ""}).status_code == 400
    assert client.post("/teams/new/", {"name": "!!!"}).status_code == 400
    reserved = client.post("/teams/new/", {"name": "New"})
    assert reserved.status_code == 400 and b"reserved" in reserved.content
    assert Team.objects.count() == 2


def test_guests_read_only_by_default(world) -> None:
    assert permission_has(world.guest, world.team.pk, "task.view")
    for perm in ("task.create", "task.edit_own", "comment.create", "team.invite", "team.manage"):
        assert not permission_has(world.guest, world.team.pk, perm)
    assert permission_has(world.member, world.team.pk, "task.create")
    assert not permission_has(world.member, world.team.pk, "team.manage")
    assert not permission_has(world.outsider, world.team.pk, "task.view")


# --- members ------------------------------------------------------------------------------------


def test_team_admins_change_roles(world) -> None:
    client = client_for(world.team_admin)
    response = client.post(f"/teams/{world.team.slug}/members/{world.member.pk}/role/", {"role": "guest"})
    assert response.status_code == 302
    assert Membership.objects.get(team=world.team, user=world.member).role == "guest"


def test_members_cannot_change_roles_or_remove_people(world) -> None:
    client = client_for(world.member)
    response = client.post(f"/teams/{world.team.slug}/members/{world.guest.pk}/role/", {"role": "admin"})
    assert response.status_code == 403 and b"team.manage" in response.content
    assert client.post(f"/teams/{world.team.slug}/members/{world.guest.pk}/remove/").status_code == 403
    assert Membership.objects.get(team=world.team, user=world.guest).role == "guest"


def test_outsiders_get_404_for_every_team_action(world) -> None:
    client = client_for(world.outsider)
    assert client.get(f"/teams/{world.team.slug}/").status_code == 404
    assert (
        client.post(f"/teams/{world.team.slug}/members/{world.member.pk}/role/", {"role": "guest"}).status_code == 404
    )
    assert client.post(f"/teams/{world.team.slug}/members/{world.member.pk}/remove/").status_code == 404
    assert client.post(f"/teams/{world.team.slug}/leave/").status_code == 404
    assert client.get(f"/teams/{world.team.slug}/permissions/").status_code == 404
    assert client.get(f"/teams/{world.team.slug}/invite/").status_code == 404
    assert Membership.objects.filter(team=world.team).count() == 3


def test_role_change_input_is_checked(world) -> None:
    client = client_for(world.team_admin)
    assert (
        client.post(f"/teams/{world.team.slug}/members/{world.member.pk}/role/", {"role": "owner"}).status_code == 400
    )
    assert (
        client.post(f"/teams/{world.team.slug}/members/{world.outsider.pk}/role/", {"role": "guest"}).status_code == 404
    )


def test_team_admins_remove_members(world) -> None:
    client = client_for(world.team_admin)
    assert client.post(f"/teams/{world.team.slug}/members/{world.guest.pk}/remove/").status_code == 302
    assert _role(world.guest, world.team) is None
    assert client_for(world.guest).get(f"/teams/{world.team.slug}/").status_code == 404  # now an outsider


def _role(user, team) -> str | None:
    return Membership.objects.filter(team=team, user=user).values_list("role", flat=True).first()


def test_the_last_admin_cannot_be_demoted_removed_or_leave(world) -> None:
    client = client_for(world.team_admin)
    demote = client.post(f"/teams/{world.team.slug}/members/{world.team_admin.pk}/role/", {"role": "member"})
    assert demote.status_code == 409 and b"at least one admin" in demote.content
    leave = client.post(f"/teams/{world.team.slug}/leave/")
    assert leave.status_code == 409 and b"last admin" in leave.content
    assert _role(world.team_admin, world.team) == "admin"
    # with a second admin, the first may leave
    client.post(f"/teams/{world.team.slug}/members/{world.member.pk}/role/", {"role": "admin"})
    assert client.post(f"/teams/{world.team.slug}/leave/").status_code == 302
    assert _role(world.team_admin, world.team) is None


def test_anyone_can_leave(world) -> None:
    for person in (world.guest, world.member):
        response = client_for(person).post(f"/teams/{world.team.slug}/leave/")
        assert response.status_code == 302 and response["Location"] == "/teams/"
        assert _role(person, world.team) is None


# --- the role-permission table ---------------------------------------------------------------


def _grants(**roles: list[str]) -> dict[str, str]:
    return {f"{role}:{perm}": "on" for role, perms in roles.items() for perm in perms}


def test_team_admins_edit_role_permissions_and_checks_follow_at_once(world) -> None:
    assert not permission_has(world.guest, world.team.pk, "comment.create")
    client = client_for(world.team_admin)
    data = _grants(
        admin=["team.manage", "team.invite", "task.view"], member=["task.view"], guest=["task.view", "comment.create"]
    )
    assert client.post(f"/teams/{world.team.slug}/permissions/", data).status_code == 302
    fresh_guest = User.objects.get(pk=world.guest.pk)  # a new request: no per-request memo
    fresh_member = User.objects.get(pk=world.member.pk)
    assert permission_has(fresh_guest, world.team.pk, "comment.create")
    assert not permission_has(fresh_member, world.team.pk, "task.create")
    page = client.get(f"/teams/{world.team.slug}/permissions/").content.decode()
    assert 'name="guest:comment.create" aria-label="Guest: Comment on tasks" checked' in page


def test_permission_table_names_permissions_in_words_not_keys(world) -> None:
    """People read "Edit tasks one created or is assigned to", not `task.edit_own`."""
    import html
    import re

    from accounts.permissions import PERMISSIONS

    for person in (world.team_admin, world.member):
        page = client_for(person).get(f"/teams/{world.team.slug}/permissions/").content.decode()
        text = html.unescape(re.sub(r"<[^>]+>", " ", page))
        for key, description in PERMISSIONS.items():
            assert description in text
            assert key not in text, key
            assert f'aria-label="Admin: {key}' not in page
    refused = client_for(world.team_admin).post(f"/teams/{world.team.slug}/permissions/", _grants(admin=["task.view"]))
    assert refused.status_code == 400
    refusal = html.unescape(re.sub(r"<[^>]+>", " ", refused.content.decode()))
    assert "team.manage" not in refusal and f"must keep the permission “{PERMISSIONS['team.manage']}”" in refusal


def test_admins_must_keep_team_manage_and_unknown_permissions_are_refused(world) -> None:
    client = client_for(world.team_admin)
    response = client.post(f"/teams/{world.team.slug}/permissions/", _grants(admin=["task.view"]))
    assert response.status_code == 400 and b"must keep" in response.content
    assert RolePermission.objects.filter(team=world.team).count() == 16  # unchanged defaults
    # a made-up permission in the form is ignored; through the service it is refused
    client.post(
        f"/teams/{world.team.slug}/permissions/", {**_grants(admin=["team.manage"]), "guest:root.everything": "on"}
    )
    assert not RolePermission.objects.filter(team=world.team, permission="root.everything").exists()
    from accounts.services.teams import role_permissions_set
    from taskforge.errors import ServiceError

    with pytest.raises(ServiceError, match="Unknown permission"):
        role_permissions_set(
            actor=world.team_admin, team=world.team, grants={"admin": {"team.manage"}, "guest": {"root.everything"}}
        )
    with pytest.raises(ServiceError, match="Unknown role"):
        role_permissions_set(actor=world.team_admin, team=world.team, grants={"admin": {"team.manage"}, "boss": set()})


def test_members_see_but_cannot_edit_role_permissions(world) -> None:
    client = client_for(world.member)
    page = client.get(f"/teams/{world.team.slug}/permissions/")
    assert page.status_code == 200 and b"Only team admins can change this" in page.content
    assert client.post(f"/teams/{world.team.slug}/permissions/", _grants(admin=["team.manage"])).status_code == 403
    assert permission_has(world.member, world.team.pk, "task.create")


# --- invitations -----------------------------------------------------------------------------------


def _invite(world, client: Client, email: str, role: str = "member"):
    return client.post(f"/teams/{world.team.slug}/invite/", {"email": email, "role": role})


def test_an_invitation_creates_an_account_with_a_membership_and_no_capability(world) -> None:
    assert _invite(world, client_for(world.team_admin), "New.Hire@Example.com").status_code == 302
    invitation = Invitation.objects.get(email="new.hire@example.com")
    assert invitation.expires_at - invitation.created_at == timedelta(days=7)
    link = queued_link("invitation", key="accept_url", email="new.hire@example.com")
    assert link.startswith("/invitations/")
    token = link.split("/")[2]
    assert invitation.token_hash != token and len(invitation.token_hash) == 64  # only a hash is stored
    newcomer = Client()
    page = newcomer.get(link)
    assert page.status_code == 200 and b"Create your account" in page.content
    response = newcomer.post(
        link, {"display_name": "Nell Hire", "password1": "a-good-passphrase", "password2": "a-good-passphrase"}
    )
    assert response.status_code == 302 and response["Location"] == f"/teams/{world.team.slug}/"
    user = User.objects.get(email="new.hire@example.com")
    assert user.email_verified and membership_role(user, world.team.pk) == "member"
    assert user.capabilities == frozenset()  # a membership, never a site capability
    assert newcomer.get(f"/teams/{world.team.slug}/").status_code == 200  # signed in
    # single use
    assert Client().get(link).status_code == 410


def test_an_invitation_adds_an_existing_staff_account_once_signed_in(world) -> None:
    _invite(world, client_for(world.team_admin), world.outsider.email, role="guest")
    link = queued_link("invitation", key="accept_url", email=world.outsider.email)
    anonymous = Client().get(link)
    assert b"Sign in to accept" in anonymous.content
    assert Client().post(link).status_code == 403
    wrong = client_for(world.member).post(link)
    assert wrong.status_code == 403 and b"sign in with that account" in wrong.content
    assert client_for(world.outsider).post(link).status_code == 302
    assert _role(world.outsider, world.team) == "guest"


def test_expired_revoked_and_unknown_invitations(world) -> None:
    admin_client = client_for(world.team_admin)
    _invite(world, admin_client, "late@example.com")
    link = queued_link("invitation", key="accept_url", email="late@example.com")
    Invitation.objects.filter(email="late@example.com").update(expires_at=timezone.now() - timedelta(seconds=1))
    response = Client().get(link)
    assert response.status_code == 410 and b"expired" in response.content
    assert (
        Client()
        .post(link, {"display_name": "L", "password1": "a-good-passphrase", "password2": "a-good-passphrase"})
        .status_code
        == 410
    )
    assert not User.objects.filter(email="late@example.com").exists()
    _invite(world, admin_client, "withdrawn@example.com")
    link = queued_link("invitation", key="accept_url", email="withdrawn@example.com")
    invitation = Invitation.objects.get(email="withdrawn@example.com")
    assert admin_client.post(f"/teams/{world.team.slug}/invitations/{invitation.pk}/revoke/").status_code == 302
    assert Client().get(link).status_code == 410
    assert Client().get("/invitations/not-a-real-token/").status_code == 404


def test_who_may_invite_and_whom(world) -> None:
    assert _invite(world, client_for(world.member), "x@example.com").status_code == 403  # members lack team.invite
    assert _invite(world, client_for(world.guest), "x@example.com").status_code == 403
    assert client_for(world.member).get(f"/teams/{world.team.slug}/invite/").status_code == 403
    already = _invite(world, client_for(world.team_admin), world.member.email)
    assert already.status_code == 409 and b"already a member" in already.content
    assert _invite(world, client_for(world.team_admin), "not-an-email").status_code == 400
    assert _invite(world, client_for(world.team_admin), "y@example.com", role="owner").status_code == 400
    assert not Invitation.objects.exists()


def test_inviting_as_admin_needs_team_manage(world) -> None:
    # give members the invite permission, but not team.manage
    RolePermission.objects.create(team=world.team, role="member", permission="team.invite")
    from accounts.permissions import permissions_invalidate

    permissions_invalidate(world.team.pk)
    assert _invite(world, client_for(world.member), "z@example.com", role="admin").status_code == 403
    assert _invite(world, client_for(world.member), "z@example.com", role="member").status_code == 302


def test_a_traveller_accepts_an_invitation_and_gains_the_team_only(world) -> None:
    assert _invite(world, client_for(world.team_admin), world.traveller.email, role="guest").status_code == 302
    link = queued_link("invitation", key="accept_url", email=world.traveller.email)
    response = client_for(world.traveller).post(link)
    assert response.status_code == 302
    assert membership_role(world.traveller, world.team.pk) == "guest"
    traveller = User.objects.get(pk=world.traveller.pk)
    assert traveller.capabilities == frozenset()
    assert client_for(traveller).get("/bookings/staff/").status_code == 404


def test_a_new_invitation_replaces_the_pending_one(world) -> None:
    client = client_for(world.team_admin)
    _invite(world, client, "twice@example.com")
    first = queued_link("invitation", key="accept_url", email="twice@example.com")
    _invite(world, client, "twice@example.com", role="guest")
    assert Client().get(first).status_code == 410
    second = queued_link("invitation", key="accept_url", email="twice@example.com")
    assert Client().get(second).status_code == 200


def test_account_creation_by_invitation_checks_the_password(world) -> None:
    _invite(world, client_for(world.team_admin), "weak@example.com")
    link = queued_link("invitation", key="accept_url", email="weak@example.com")
    response = Client().post(link, {"display_name": "Weak", "password1": "short", "password2": "short"})
    assert response.status_code == 400 and b"at least 10 characters" in response.content
    assert not User.objects.filter(email="weak@example.com").exists()
    assert Invitation.objects.get(email="weak@example.com").accepted_at is None


# --- presence ----------------------------------------------------------------------------------------


def test_presence_is_throttled_to_once_a_minute(world) -> None:
    assert presence_touch(world.member.pk) is True
    assert presence_touch(world.member.pk) is False
    assert world.member.pk in presence_active([world.member.pk])


def test_team_page_shows_who_was_active_in_the_last_five_minutes(world) -> None:
    import time

    presence_touch(world.guest.pk, now=time.time() - 6 * 60)  # six minutes ago
    client = client_for(world.member)
    client.get("/")  # the member's own request marks them active
    html = client.get(f"/teams/{world.team.slug}/").content.decode()
    member, guest = world.member.email, world.guest.email
    rows = {line for line in html.split("<tr>") if member in line or guest in line}
    assert any(member in r and "online" in r for r in rows)
    assert any(guest in r and "away" in r for r in rows)
    partial = client.get(f"/teams/{world.team.slug}/", HTTP_HX_REQUEST="true")
    assert partial.status_code == 200 and b"<html" not in partial.content and b'id="members"' in partial.content


def test_site_admins_see_every_team_but_act_only_through_memberships(world) -> None:
    client = client_for(world.site_admin)
    assert world.team.name.encode() in client.get("/teams/").content
    assert client.get(f"/teams/{world.team.slug}/").status_code == 200
    assert client.post(f"/teams/{world.team.slug}/members/{world.member.pk}/remove/").status_code == 403
    assert client.post(f"/teams/{world.team.slug}/leave/").status_code == 404
