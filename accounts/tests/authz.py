"""Authorization-matrix entries of the accounts app (format: taskforge/testing/authz.py).

Team pages: team x's guest, member and admin see them; only its admin changes the team
(the guest and member are refused with 403: they see the team). The site admin, in no
team, may READ every team (team page, permissions table) and change none (403: the team
is visible to them). Everyone else gets 404 for a team's pages; another team (y) is a 404
for the people of x. Creating a team takes the team-creator capability (site admins hold
every capability); the list of one's teams is open to anyone signed in. The People pages
are for site admins.

Requests that would end the requesting session for good (signing out, revoking the
current session, a successful password change/reset/erasure, a successful sign-in) are
sent with refused input, or from a fresh session of the actor (`fresh_session`): the matrix
reuses one signed-in client per actor, and the session index lives in Redis, which the
per-request rollback does not undo.
"""

from __future__ import annotations

import io
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile

from taskforge.testing.authz import Route, World, capability, everyone, only, signed_in, team_x


def _read() -> dict[str, Any]:
    """Team x's pages to read: its people and the site admin."""
    return team_x(guest=200, member=200, admin=200, site_admin=200)


def _manage(ok: int = 302) -> dict[str, Any]:
    """Changing team x: its admin only; its guest and member, and the site admin, see the team: 403."""
    return team_x(guest=403, member=403, admin=ok, site_admin=403)


def _png() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 40, 40)).save(buffer, format="PNG")
    return buffer.getvalue()


def make_objects(world: World) -> dict[str, Any]:
    from django.contrib.auth.tokens import default_token_generator
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    from accounts import services
    from accounts.models import Membership, UserSession
    from accounts.services.api_tokens import api_token_create
    from accounts.sessions import sid_hash
    from taskforge.dbcontext import context_for_user, db_context
    from taskforge.testing.personas import person_create

    users, team = world.users, world.teams["x"]
    # A second admin of team x (not an actor): role changes and removal then have a target,
    # and the team admin may leave.
    co_admin = person_create("member", "matrix-co-admin-x@example.com", None, display_name="Co Admin X")
    # A password-reset link of an account that is none of the actors (a reset ends every
    # session of its account, which would sign an actor out for the rest of the run).
    resettable = person_create("traveller", "matrix-reset@example.com", "old-password-2026", display_name="Reset Me")
    Membership.objects.create(team=team, user=co_admin, role="admin")
    # Another (not the current) session of the traveller, to revoke.
    other_session = UserSession.objects.create(
        user=users["traveller"], sid_hash=sid_hash("matrix-other-browser"), user_agent="Other browser"
    )
    admin = users["team_admin"]
    with db_context(context_for_user(admin)):
        # other_traveller is invited to team x: only other_traveller (signed in) may accept.
        _, invite_token = services.invitation_create(
            actor=admin, team=team, email=users["other_traveller"].email, role="member"
        )
        pending, _ = services.invitation_create(actor=admin, team=team, email="newcomer@example.com", role="guest")
    traveller = users["traveller"]
    with db_context(context_for_user(traveller)):
        profile = services.avatar_set(user=traveller, upload=SimpleUploadedFile("me.png", _png()))
        api_token = api_token_create(user=traveller, name="matrix", scope="read")
    return {
        "api_token_traveller": api_token.token,
        "co_admin_x": co_admin,
        "verify_token": services.verification_token(traveller),
        "reset_uidb64": urlsafe_base64_encode(force_bytes(resettable.pk)),
        "reset_token": default_token_generator.make_token(resettable),
        "session_traveller_other": other_session,
        "invite_token_other_traveller": invite_token,
        "invitation_pending_x": pending,
        "avatar_traveller": profile["avatar"],
    }


def _team(w: World) -> dict[str, Any]:
    return {"slug": w.teams["x"].slug}


def _member(w: World) -> dict[str, Any]:
    return {"slug": w.teams["x"].slug, "user_id": w.objects["co_admin_x"].pk}


_PERMISSIONS_DATA = {
    # The default table, so nothing changes for the other entries even if a cache kept it.
    "member:comment.create": "on",
    "guest:task.view": "on",
    **{f"member:{p}": "on" for p in ("task.view", "task.create", "task.edit_own", "task.assign")},
}


MATRIX: dict[str, Route | list[Route]] = {
    # --- sign-in / out ----------------------------------------------------------------------
    # Signed-in visitors are sent on (to "next"/home). A sign-in that fails is refused; one
    # that works would replace the actor's session (see the module docstring). The address
    # is nobody's: failures count against an address, which would throttle an actor's
    # password checks (e.g. on the erasure page) later in the run.
    "accounts:login": Route(
        GET=signed_in(302, anon=200),
        POST=everyone(400),
        data=lambda w: {"email": "matrix-nobody@example.com", "password": "not-the-password"},
        extra={"REMOTE_ADDR": "203.0.113.21"},
    ),
    # Signing out ends the session it is sent from: a fresh one per request.
    "accounts:logout": Route(GET=everyone(405), POST=everyone(302), fresh_session=True),
    # --- registration / verification ----------------------------------------------------------
    "accounts:register": Route(
        GET=signed_in(302, anon=200),
        POST=signed_in(302, anon=200),  # anonymous: "check your inbox" (same answer for known addresses)
        data=lambda w: {
            "email": "matrix-new@example.com",
            "first_name": "New",
            "last_name": "Person",
            "password1": "a-long-new-password-2026",
            "password2": "a-long-new-password-2026",
        },
        extra={"REMOTE_ADDR": "203.0.113.22"},
    ),
    "accounts:verify_resend": Route(
        GET=everyone(200),
        POST=everyone(200),
        data=lambda w: {"email": "matrix-traveller@example.com"},
        extra={"REMOTE_ADDR": "203.0.113.23"},
    ),
    # The signed link is the credential: whoever holds it sees the page (GET changes
    # nothing) and may confirm (POST). A link that is not one: 404 for everyone.
    "accounts:verify": [
        Route(kwargs=lambda w: {"token": w.objects["verify_token"]}, GET=everyone(200), POST=everyone(200)),
        Route(label="not a token", kwargs=lambda w: {"token": "not-a-token"}, GET=everyone(404), POST=everyone(404)),
    ],
    # --- passwords ------------------------------------------------------------------------------
    "accounts:password_change": Route(
        GET=signed_in(200),
        POST=signed_in(400),  # wrong current password (a change would end the actor's other sessions)
        data=lambda w: {
            "old_password": "not-the-password",
            "new_password1": "a-long-new-password-2026",
            "new_password2": "a-long-new-password-2026",
        },
    ),
    "accounts:password_change_done": Route(GET=signed_in(200)),
    "accounts:password_reset": Route(
        GET=everyone(200),
        POST=everyone(400),  # not an address; a real one is throttled per address (3 an hour)
        data=lambda w: {"email": "not-an-address"},
        extra={"REMOTE_ADDR": "203.0.113.24"},
    ),
    "accounts:password_reset_done": Route(GET=everyone(200)),
    # A valid link moves the token into the session and redirects to the set-password form
    # (the link is the credential: the same for everyone); a broken one shows "this link
    # does not work". The POST is not tried: the token goes into the visitor's session, and
    # the anonymous client's session only exists inside the rolled-back savepoint of its
    # first request, so a second write of it is refused by Django's session middleware
    # (400 SessionInterrupted) - a harness artefact.
    "accounts:password_reset_confirm": [
        Route(
            kwargs=lambda w: {"uidb64": w.objects["reset_uidb64"], "token": w.objects["reset_token"]},
            GET=everyone(302),
        ),
        Route(label="broken link", kwargs=lambda w: {"uidb64": "MQ", "token": "bad-token"}, GET=everyone(200)),
    ],
    "accounts:password_reset_complete": Route(GET=everyone(200)),
    # --- profile ---------------------------------------------------------------------------------
    "accounts:profile": Route(GET=signed_in(200), POST=signed_in(400), data=lambda w: {"theme": "neon"}),
    "accounts:theme": Route(GET=signed_in(405), POST=signed_in(302), data=lambda w: {"theme": "dark"}),
    "accounts:avatar_upload": Route(GET=signed_in(405), POST=signed_in(400)),  # no file sent
    "accounts:avatar_delete": Route(GET=signed_in(405), POST=signed_in(302)),
    # Avatars are shown next to names on shared pages: any signed-in person with the
    # (unguessable, server-made) name may load one.
    "accounts:avatar": [
        Route(kwargs=lambda w: {"name": w.objects["avatar_traveller"]}, GET=signed_in(200), POST=signed_in(405)),
        Route(
            label="no such picture",
            kwargs=lambda w: {"name": "0123456789abcdef0123456789abcdef.png"},
            GET=signed_in(404),
        ),
    ],
    # --- sessions ----------------------------------------------------------------------------------
    "accounts:sessions": Route(GET=signed_in(200), POST=signed_in(405)),
    # The traveller's other session: theirs to revoke; someone else's session does not exist.
    "accounts:session_revoke": Route(
        kwargs=lambda w: {"session_id": w.objects["session_traveller_other"].pk},
        GET=signed_in(405),
        POST=only(302, "traveller"),
    ),
    "accounts:sessions_revoke_others": Route(GET=signed_in(405), POST=signed_in(302)),
    # --- personal access tokens (on the profile page) ----------------------------------------------
    "accounts:api_token_create": Route(
        GET=signed_in(405), POST=signed_in(201), data=lambda w: {"name": "matrix", "scope": "read"}
    ),
    # The traveller's token: theirs to revoke; someone else's token does not exist.
    "accounts:api_token_revoke": Route(
        kwargs=lambda w: {"token_id": w.objects["api_token_traveller"].pk},
        GET=signed_in(405),
        POST=only(302, "traveller"),
    ),
    # --- personal data -----------------------------------------------------------------------------
    "accounts:data": Route(GET=signed_in(200), POST=signed_in(405)),
    "accounts:data_export": Route(GET=signed_in(200), POST=signed_in(405)),
    "accounts:delete": Route(
        GET=signed_in(200),
        POST=signed_in(400),  # wrong password (an erasure would end the actor's session)
        data=lambda w: {"password": "wrong-password", "confirm": "on"},
    ),
    # --- people (site admins grant and remove capabilities) ----------------------------------------
    "accounts:people": Route(
        query=lambda w: {"q": "matrix"}, GET=capability("site_admin", 200), POST=capability("site_admin", 405)
    ),
    "accounts:person": [
        Route(
            kwargs=lambda w: {"user_id": w.users["traveller"].pk},
            GET=capability("site_admin", 200),
            POST=capability("site_admin", 302),
            data=lambda w: {"capabilities": ["booking_desk"]},
        ),
        Route(
            label="no such person",
            kwargs=lambda w: {"user_id": 2_000_000_000},
            GET=capability("site_admin", 404),
            POST=capability("site_admin", 404),
            data=lambda w: {"capabilities": ["booking_desk"]},
        ),
    ],
    # --- teams -------------------------------------------------------------------------------------
    "accounts:teams": Route(GET=signed_in(200), POST=signed_in(405)),
    "accounts:team_create": [
        Route(
            GET=capability("team_creator", 200),
            POST=capability("team_creator", 302),
            data=lambda w: {"name": "Matrix Team", "slug": "matrix-team", "description": ""},
        ),
        Route(label="no name", POST=capability("team_creator", 400), data=lambda w: {"name": ""}),
    ],
    "accounts:team": [
        Route(kwargs=_team, GET=_read(), POST=signed_in(405)),
        Route(label="team y", kwargs=lambda w: {"slug": w.teams["y"].slug}, GET=only(200, "site_admin")),
        Route(label="no such team", kwargs=lambda w: {"slug": "no-such-team"}, GET=signed_in(404)),
    ],
    "accounts:team_invite": [
        Route(
            kwargs=_team,
            GET=_manage(200),
            POST=_manage(302),
            data=lambda w: {"email": "invitee@example.com", "role": "member"},
            allow_403=True,
        ),
        Route(
            label="team y",
            kwargs=lambda w: {"slug": w.teams["y"].slug},
            GET=only(403, "site_admin"),
            POST=only(403, "site_admin"),
            data=lambda w: {"email": "invitee@example.com", "role": "member"},
            allow_403=True,
        ),
    ],
    "accounts:invitation_revoke": Route(
        kwargs=lambda w: {"slug": w.teams["x"].slug, "invitation_id": w.objects["invitation_pending_x"].pk},
        GET=signed_in(405),
        POST=_manage(302),
        allow_403=True,
    ),
    "accounts:member_role": Route(
        kwargs=_member, GET=signed_in(405), POST=_manage(302), data=lambda w: {"role": "member"}, allow_403=True
    ),
    "accounts:member_remove": Route(kwargs=_member, GET=signed_in(405), POST=_manage(302), allow_403=True),
    # Anyone in the team may leave it (x has a second admin); the site admin is not a
    # member: there is no membership to end (404).
    "accounts:team_leave": Route(
        kwargs=_team, GET=signed_in(405), POST=team_x(guest=302, member=302, admin=302, site_admin=404)
    ),
    "accounts:team_permissions": [
        Route(
            kwargs=_team,
            GET=_read(),
            POST=_manage(302),
            data=lambda w: {**{f"admin:{p}": "on" for p in _all_permissions()}, **_PERMISSIONS_DATA},
            allow_403=True,
        ),
        Route(label="team y", kwargs=lambda w: {"slug": w.teams["y"].slug}, GET=only(200, "site_admin")),
    ],
    # --- invitations -------------------------------------------------------------------------------
    # The link is the credential: anyone holding it sees the invitation; only the invited
    # account (other_traveller, signed in) may accept it, which makes them a member of x and
    # grants no capability. Everyone else is refused with 403: the invitation page was
    # already shown to them, so the status reveals nothing.
    "accounts:invitation": [
        Route(
            kwargs=lambda w: {"token": w.objects["invite_token_other_traveller"]},
            GET=everyone(200),
            POST=everyone(403, other_traveller=302),
            allow_403=True,
        ),
        Route(
            label="not a token", kwargs=lambda w: {"token": "not-a-real-token"}, GET=everyone(404), POST=everyone(404)
        ),
    ],
}


def _all_permissions() -> list[str]:
    from accounts.permissions import PERMISSIONS

    return list(PERMISSIONS)
