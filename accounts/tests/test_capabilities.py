"""Site capabilities apart from team roles (issue: joining any team made a person staff).

Each rule is tested from both sides: the person with the capability may, the person
without it (a team member, a guest who joined by invitation, a traveller) may not.
"""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from accounts.models import Capability, CapabilityGrant, Membership
from accounts.permissions import permission_has
from accounts.services.capabilities import capabilities_set
from accounts.services.invitations import invitation_accept, invitation_create
from accounts.services.teams import member_remove
from accounts.tests.conftest import client_for
from audit.models import AuditLog
from taskforge.dbcontext import DbContext, context_for_system, context_for_user, db_context
from taskforge.errors import ServiceError

pytestmark = pytest.mark.django_db

CAPABILITY_PAGES = {
    Capability.BOOKING_DESK: "/bookings/staff/",
    Capability.CATALOGUE_EDITOR: "/trips/staff/",
    Capability.REPORTS_READER: "/reports/revenue/daily/",
    Capability.TEAM_CREATOR: "/teams/new/",
    Capability.SITE_ADMIN: "/people/",
}


def _status(user, url: str) -> int:
    return client_for(user).get(url).status_code


def _invited_guest(world, email: str = "new.guest@example.com"):
    _invitation, token = invitation_create(actor=world.team_admin, team=world.team, email=email, role="guest")
    return invitation_accept(token=token, user=None, display_name="New Guest", password="a-long-passphrase-1").user


def test_an_invitation_grants_a_membership_and_no_capability(world) -> None:
    guest = _invited_guest(world)
    assert Membership.objects.get(user=guest).role == "guest"
    assert not CapabilityGrant.objects.filter(user=guest).exists()
    for url in CAPABILITY_PAGES.values():
        assert _status(guest, url) == 404, url
    # ... while the team's own pages are open to them.
    assert _status(guest, f"/teams/{world.team.slug}/") == 200


@pytest.mark.parametrize("capability", list(CAPABILITY_PAGES))
def test_each_capability_opens_its_pages_and_no_other(make_user, capability: str) -> None:
    kind = "admin" if capability == Capability.SITE_ADMIN else capability
    user = make_user(kind)
    assert _status(user, CAPABILITY_PAGES[capability]) == 200
    if capability != Capability.SITE_ADMIN:
        others = [url for cap, url in CAPABILITY_PAGES.items() if cap != capability]
        assert [_status(user, url) for url in others] == [404] * len(others)


def test_a_team_member_holds_team_permissions_without_any_capability(world) -> None:
    assert permission_has(world.member, world.team.pk, "task.create") is True
    assert permission_has(world.member, world.other_team.pk, "task.view") is False
    world.member.is_active = False
    assert permission_has(world.member, world.team.pk, "task.view") is False


def test_removal_from_the_team_leaves_no_power_behind(world) -> None:
    member = world.member
    member_remove(actor=world.team_admin, team=world.team, user_id=member.pk)
    member.refresh_from_db()
    assert permission_has(member, world.team.pk, "task.view") is False
    assert [_status(member, url) for url in CAPABILITY_PAGES.values()] == [404] * len(CAPABILITY_PAGES)
    assert _status(member, "/tasks/") == 404


def test_team_creation_needs_the_capability(world, make_user) -> None:
    from accounts.services.teams import team_create

    with pytest.raises(ServiceError) as refused:
        team_create(user=world.member, name="Shadow")
    assert refused.value.status == 403
    assert client_for(world.member).post("/teams/new/", {"name": "Shadow", "slug": "shadow"}).status_code == 404
    assert (
        client_for(make_user("team_creator")).post("/teams/new/", {"name": "Made", "slug": "made"}).status_code == 302
    )


def test_a_site_admin_grants_and_removes_on_the_people_page(world) -> None:
    admin, member = client_for(world.site_admin), world.member
    assert _status(member, "/bookings/staff/") == 404
    response = admin.post(f"/people/{member.pk}/", {"capabilities": ["booking_desk"]})
    assert response.status_code == 302
    # Applies on the person's next request (their session is untouched).
    member_client = client_for(member)
    assert member_client.get("/bookings/staff/").status_code == 200
    admin.post(f"/people/{member.pk}/", {"capabilities": []})
    assert member_client.get("/bookings/staff/").status_code == 404
    with db_context(context_for_user(world.site_admin)):
        rows = [
            r
            for r in AuditLog.objects.filter(table_name="accounts_capability_grant").order_by("id")
            if (r.new_values or r.old_values)["user_id"] == member.pk
        ]
        assert [r.operation for r in rows] == ["INSERT", "DELETE"]
        assert rows[0].user_id == world.site_admin.pk
        assert rows[0].new_values["capability"] == "booking_desk"


def test_the_people_page_searches(world) -> None:
    page = client_for(world.site_admin).get("/people/", {"q": world.member.email}).content.decode()
    assert world.member.email in page
    assert world.guest.email not in page


def test_nobody_but_a_site_admin_reaches_the_people_page(world) -> None:
    for user in (world.member, world.team_admin, world.traveller):
        assert _status(user, "/people/") == 404
        response = client_for(user).post(f"/people/{user.pk}/", {"capabilities": ["site_admin"]})
        assert response.status_code == 404
        assert not CapabilityGrant.objects.filter(user=user, capability="site_admin").exists()
    assert client_for(None).get("/people/").status_code == 302


def test_bad_capability_input_is_a_400_not_a_grant(world) -> None:
    response = client_for(world.site_admin).post(f"/people/{world.member.pk}/", {"capabilities": ["god_mode"]})
    assert response.status_code == 400
    assert not CapabilityGrant.objects.filter(user=world.member).exists()
    assert client_for(world.site_admin).get("/people/", {"page": "9" * 30}).status_code == 400
    assert client_for(world.site_admin).get("/people/999999999/").status_code == 404


def test_a_site_admin_cannot_remove_their_own_capability(world, make_user) -> None:
    first = world.site_admin
    with db_context(context_for_user(first)), pytest.raises(ServiceError) as own:
        capabilities_set(actor=first, user_id=first.pk, capabilities=[])
    assert own.value.status == 409
    second = make_user("admin")
    with db_context(context_for_user(second)):
        capabilities_set(actor=second, user_id=first.pk, capabilities=["reports_reader"])
        assert set(CapabilityGrant.objects.filter(user=first).values_list("capability", flat=True)) == {
            "reports_reader"
        }


def test_only_a_site_admin_context_may_write_grants_at_database_level(world) -> None:
    """RLS on the grant table: even an application bug cannot let a person grant themselves."""
    sql = "INSERT INTO accounts_capability_grant (user_id, capability, granted_at) VALUES (%s, 'booking_desk', now())"
    for ctx in (DbContext(), context_for_user(world.member), context_for_user(world.team_admin)):
        with db_context(ctx), pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [world.member.pk])
    for ctx in (context_for_user(world.site_admin), context_for_system("test")):
        with db_context(ctx), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql + " ON CONFLICT DO NOTHING", [world.member.pk])
            assert cursor.rowcount in (0, 1)
    assert CapabilityGrant.objects.filter(user=world.member, capability="booking_desk").exists()


def test_the_nav_follows_capabilities_and_teams(world, make_user) -> None:
    def nav(user):
        return client_for(user).get("/").content.decode()

    member_nav, traveller_nav = nav(world.member), nav(world.traveller)
    assert "/tasks/" in member_nav and "/bookings/staff/" not in member_nav and "/people/" not in member_nav
    assert "/tasks/" not in traveller_nav and "/bookings/mine/" in traveller_nav
    desk_nav = nav(make_user("booking_desk"))
    assert "/bookings/staff/" in desk_nav and "/trips/staff/" not in desk_nav
    assert "/people/" in nav(world.site_admin)
