"""Every accounts URL as anonymous, traveller, staff of this team, staff of another team and admin.

Each row runs against a fresh world; "member" (staff of this team) goes last because
some of its actions change the team. 302L means "redirected to sign-in".
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from accounts.models import UserSession
from accounts.tests.conftest import client_for

pytestmark = pytest.mark.django_db

ANON, TRAV, OTHER, ADMIN, MEMBER = "anonymous", "traveller", "staff_other_team", "admin", "staff_this_team"
PERSONAS = (ANON, TRAV, OTHER, ADMIN, MEMBER)
LOGIN = "302L"


def _all(status: Any) -> dict[str, Any]:
    return dict.fromkeys(PERSONAS, status)


def _signed_in(status: Any, anon: Any = LOGIN) -> dict[str, Any]:
    return {**dict.fromkeys(PERSONAS, status), ANON: anon}


# team pages: travellers and outsiders 404, site admins see (read) the team
TEAM_READ = {ANON: LOGIN, TRAV: 404, OTHER: 404, ADMIN: 200, MEMBER: 200}
TEAM_MANAGE = {ANON: LOGIN, TRAV: 404, OTHER: 404, ADMIN: 403, MEMBER: 403}

ROWS: list[tuple[str, str, dict[str, Any] | None, dict[str, Any]]] = [
    ("GET", "/accounts/login/", None, _signed_in(302, anon=200)),
    ("POST", "/accounts/logout/", {}, _all(302)),
    ("GET", "/accounts/register/", None, _signed_in(302, anon=200)),
    ("GET", "/accounts/verify/not-a-token/", None, _all(404)),
    ("GET", "/accounts/verify/resend/", None, _all(200)),
    ("GET", "/accounts/password/", None, _signed_in(200)),
    ("GET", "/accounts/password/done/", None, _signed_in(200)),
    ("GET", "/accounts/password/reset/", None, _all(200)),
    ("GET", "/accounts/password/reset/sent/", None, _all(200)),
    ("GET", "/accounts/reset/MQ/bad-token/", None, _all(200)),  # "this link does not work" page
    ("GET", "/accounts/reset/done/", None, _all(200)),
    ("GET", "/accounts/profile/", None, _signed_in(200)),
    ("POST", "/accounts/profile/", {"theme": "neon"}, _signed_in(400)),
    ("POST", "/accounts/profile/theme/", {"theme": "light"}, _signed_in(302)),
    ("POST", "/accounts/profile/avatar/", {}, _signed_in(400)),
    ("POST", "/accounts/profile/avatar/delete/", {}, _signed_in(302)),
    ("GET", "/accounts/avatars/0123456789abcdef0123456789abcdef.png", None, _signed_in(404)),
    ("GET", "/accounts/sessions/", None, _signed_in(200)),
    ("POST", "/accounts/sessions/{victim_session}/revoke/", {}, {**_signed_in(404), MEMBER: 302}),
    ("POST", "/accounts/sessions/revoke-others/", {}, _signed_in(302)),
    ("GET", "/accounts/data/", None, _signed_in(200)),
    ("GET", "/accounts/data/export/", None, _signed_in(200)),
    ("GET", "/accounts/delete/", None, _signed_in(200)),
    ("POST", "/accounts/delete/", {"password": "wrong-password", "confirm": "on"}, _signed_in(400)),
    ("GET", "/teams/", None, {**_signed_in(200), TRAV: 403}),
    ("GET", "/teams/new/", None, {**_signed_in(200), TRAV: 403}),
    ("POST", "/teams/new/", {"name": ""}, {**_signed_in(400), TRAV: 403}),
    ("GET", "/teams/rescue/", None, TEAM_READ),
    ("GET", "/teams/rescue/invite/", None, TEAM_MANAGE),
    ("POST", "/teams/rescue/invite/", {"email": "x@example.com", "role": "member"}, TEAM_MANAGE),
    ("POST", "/teams/rescue/invitations/{invitation}/revoke/", {}, TEAM_MANAGE),
    ("POST", "/teams/rescue/members/{guest}/role/", {"role": "member"}, TEAM_MANAGE),
    ("POST", "/teams/rescue/members/{guest}/remove/", {}, TEAM_MANAGE),
    ("POST", "/teams/rescue/leave/", {}, {**TEAM_READ, ADMIN: 404, MEMBER: 302}),
    ("GET", "/teams/rescue/permissions/", None, TEAM_READ),
    ("POST", "/teams/rescue/permissions/", {"admin:team.manage": "on"}, TEAM_MANAGE),
    ("GET", "/teams/no-such-team/", None, {**TEAM_READ, ADMIN: 404, MEMBER: 404}),
    ("GET", "/invitations/not-a-real-token/", None, _all(404)),
    ("GET", "/invitations/{token}/", None, _all(200)),
    ("GET", "/admin/", None, {**_all(302), ADMIN: 200}),
    ("GET", "/admin/accounts/user/", None, {**_all(302), ADMIN: 200}),
    ("GET", "/admin/accounts/team/", None, {**_all(302), ADMIN: 200}),
    ("GET", "/admin/accounts/membership/", None, {**_all(302), ADMIN: 200}),
    ("GET", "/admin/accounts/rolepermission/", None, {**_all(302), ADMIN: 200}),
]


@pytest.mark.parametrize(("method", "path", "data", "expected"), ROWS, ids=[f"{m} {p}" for m, p, _, _ in ROWS])
def test_every_url_for_every_persona(world, method: str, path: str, data: dict | None, expected: dict) -> None:  # noqa: ANN001
    from accounts.services import invitation_create

    victim = Client(HTTP_USER_AGENT="victim-browser")
    victim.force_login(world.member)
    victim.get("/accounts/sessions/")  # indexes the member's other session
    invitation, token = invitation_create(
        actor=world.team_admin, team=world.team, email="new@example.com", role="member"
    )
    path = path.format(
        victim_session=UserSession.objects.get(user=world.member, user_agent="victim-browser").pk,
        invitation=invitation.pk,
        guest=world.guest.pk,
        token=token,
    )
    personas = {ANON: None, TRAV: world.traveller, OTHER: world.outsider, ADMIN: world.site_admin, MEMBER: world.member}
    seen = {}
    for persona in PERSONAS:
        client = client_for(personas[persona])
        response = client.get(path) if method == "GET" else client.post(path, data or {})
        status = response.status_code
        if status == 302 and "/accounts/login/" in response.get("Location", "") and expected[persona] == LOGIN:
            status = LOGIN
        seen[persona] = status
    assert seen == expected
