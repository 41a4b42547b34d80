"""Authorization-matrix entries of the accounts app (format: audit/authz.py).

Actors: staff_x runs team "x" (team admin), staff_y runs team "y", the site admin is in
no team but may READ every team (team pages, permissions table) and not change one
(403: the team is visible to them, so the refusal reveals nothing). Travellers and
outsiders get 404 for a team's pages; anonymous visitors are sent to sign in.

Requests that would end the requesting session for good (signing out, revoking the
current session, a successful password change/reset/erasure, a successful sign-in) are
avoided or sent with refused input: the matrix reuses one signed-in client per actor,
and the session index lives in Redis, which the per-request rollback does not undo.
"""

from __future__ import annotations

import io
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile

from audit.authz import Route, World, everyone, statuses

LOGIN = 302  # anonymous: sent to the sign-in page


def _signed_in(status: int, *, anon: int = LOGIN) -> dict[str, int]:
    return statuses(anon=anon, traveller_a=status, traveller_b=status, staff_x=status, staff_y=status, admin=status)


def _staff_pages(status: int, *, travellers: int = 403) -> dict[str, int]:
    """The team list and creation pages: staff and admins; travellers are refused (no object)."""
    return statuses(
        anon=LOGIN, traveller_a=travellers, traveller_b=travellers, staff_x=status, staff_y=status, admin=status
    )


def _team_read(ok: int = 200) -> dict[str, int]:
    """Team x's pages to read: its members and site admins."""
    return statuses(anon=LOGIN, traveller_a=404, traveller_b=404, staff_x=ok, staff_y=404, admin=ok)


def _team_manage(ok: int = 302, *, admin: int = 403) -> dict[str, int]:
    """Changing team x: its admin (staff_x). The site admin sees the team but may not change it."""
    return statuses(anon=LOGIN, traveller_a=404, traveller_b=404, staff_x=ok, staff_y=404, admin=admin)


def _team_method_refused() -> dict[str, int]:
    """A method a team page does not take: 405 for every staff member and admin (the method
    is checked before the team is looked up, so it says nothing about the team), while
    travellers get 404 for any team URL."""
    return statuses(anon=LOGIN, traveller_a=404, traveller_b=404, staff_x=405, staff_y=405, admin=405)


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
    from accounts.models import Membership, User, UserSession
    from accounts.sessions import sid_hash
    from taskforge.dbcontext import DbContext, db_context

    users, team_x = world.users, world.teams["x"]
    # A second admin of team x: role changes, removal and staff_x leaving are then allowed.
    co_admin = User.objects.create_user("matrix-x2@example.com", None, role="staff", display_name="Co Admin X")
    Membership.objects.create(team=team_x, user=co_admin, role="admin")
    # A password-reset link of an account that is none of the actors (a reset ends every
    # session of its account, which would sign an actor out for the rest of the run).
    resettable = User.objects.create_user("matrix-reset@example.com", "old-password-2026", display_name="Reset Me")
    # Another (not the current) session of traveller A, to revoke.
    other_session = UserSession.objects.create(
        user=users["traveller_a"], sid_hash=sid_hash("matrix-other-browser"), user_agent="Other browser"
    )
    staff_x = users["staff_x"]
    with db_context(DbContext(user_id=str(staff_x.pk), role="user")):
        # staff_y is invited to team x: only staff_y (signed in) may accept.
        _, invite_token = services.invitation_create(
            actor=staff_x, team=team_x, email=users["staff_y"].email, role="member"
        )
        pending, _ = services.invitation_create(actor=staff_x, team=team_x, email="newcomer@example.com", role="guest")
    traveller_a = users["traveller_a"]
    with db_context(DbContext(user_id=str(traveller_a.pk), role="user")):
        profile = services.avatar_set(user=traveller_a, upload=SimpleUploadedFile("me.png", _png()))
    return {
        "co_admin_x": co_admin,
        "verify_token_a": services.verification_token(traveller_a),
        "reset_uidb64": urlsafe_base64_encode(force_bytes(resettable.pk)),
        "reset_token": default_token_generator.make_token(resettable),
        "session_a_other": other_session,
        "invite_token_staff_y": invite_token,
        "invitation_pending_x": pending,
        "avatar_a": profile["avatar"],
    }


def _team(w: World) -> dict[str, Any]:
    return {"slug": w.teams["x"].slug}


def _member(w: World) -> dict[str, Any]:
    return {"slug": w.teams["x"].slug, "user_id": w.objects["co_admin_x"].pk}


MATRIX: dict[str, Route] = {
    # --- sign-in / out ----------------------------------------------------------------------
    # Signed-in visitors are sent on (to "next"/home). A wrong password is refused; a right
    # one would replace the actor's session (see the module docstring).
    "accounts:login": Route(
        GET=_signed_in(302, anon=200),
        POST=everyone(400),
        data=lambda w: {"email": "matrix-a@example.com", "password": "not-the-password"},
        extra={"REMOTE_ADDR": "203.0.113.21"},
    ),
    # POST (sign out) is not tried: it would end each actor's session for the rest of the run.
    "accounts:logout": Route(GET=everyone(405)),
    # --- registration / verification ----------------------------------------------------------
    "accounts:register": Route(
        GET=_signed_in(302, anon=200),
        POST=_signed_in(302, anon=200),  # anonymous: "check your inbox" (same answer for known addresses)
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
        data=lambda w: {"email": "matrix-a@example.com"},
        extra={"REMOTE_ADDR": "203.0.113.23"},
    ),
    # The signed link is the credential: whoever holds it sees the page (GET changes
    # nothing) and may confirm (POST).
    "accounts:verify": Route(
        kwargs=lambda w: {"token": w.objects["verify_token_a"]},
        GET=everyone(200),
        POST=everyone(200),
    ),
    # --- passwords ------------------------------------------------------------------------------
    "accounts:password_change": Route(
        GET=_signed_in(200),
        POST=_signed_in(400),  # wrong current password (a change would end the actor's session)
        data=lambda w: {
            "old_password": "not-the-password",
            "new_password1": "a-long-new-password-2026",
            "new_password2": "a-long-new-password-2026",
        },
    ),
    "accounts:password_change_done": Route(GET=_signed_in(200)),
    "accounts:password_reset": Route(
        GET=everyone(200),
        POST=everyone(400),  # not an address; a real one is throttled per address (3 an hour)
        data=lambda w: {"email": "not-an-address"},
        extra={"REMOTE_ADDR": "203.0.113.24"},
    ),
    "accounts:password_reset_done": Route(GET=everyone(200)),
    # A valid link moves the token into the session and redirects to the set-password form
    # (the link is the credential: the same for everyone). The POST is not tried: the token
    # goes into the visitor's session, and the anonymous client's session only exists
    # inside the rolled-back savepoint of its first request, so a second write of it is
    # refused by Django's session middleware (400 SessionInterrupted) - a harness artefact.
    "accounts:password_reset_confirm": Route(
        kwargs=lambda w: {"uidb64": w.objects["reset_uidb64"], "token": w.objects["reset_token"]},
        GET=everyone(302),
    ),
    "accounts:password_reset_complete": Route(GET=everyone(200)),
    # --- profile ---------------------------------------------------------------------------------
    "accounts:profile": Route(GET=_signed_in(200), POST=_signed_in(400), data=lambda w: {"theme": "neon"}),
    "accounts:theme": Route(GET=_signed_in(405), POST=_signed_in(302), data=lambda w: {"theme": "dark"}),
    "accounts:avatar_upload": Route(GET=_signed_in(405), POST=_signed_in(400)),  # no file sent
    "accounts:avatar_delete": Route(GET=_signed_in(405), POST=_signed_in(302)),
    # Avatars are shown next to names on shared pages: any signed-in person with the
    # (unguessable, server-made) name may load one.
    "accounts:avatar": Route(
        kwargs=lambda w: {"name": w.objects["avatar_a"]},
        GET=_signed_in(200),
        POST=_signed_in(405),
    ),
    # --- sessions ----------------------------------------------------------------------------------
    "accounts:sessions": Route(GET=_signed_in(200), POST=_signed_in(405)),
    "accounts:session_revoke": Route(
        kwargs=lambda w: {"session_id": w.objects["session_a_other"].pk},
        GET=_signed_in(405),
        POST=statuses(anon=LOGIN, traveller_a=302, traveller_b=404, staff_x=404, staff_y=404, admin=404),
    ),
    "accounts:sessions_revoke_others": Route(GET=_signed_in(405), POST=_signed_in(302)),
    # --- personal data -----------------------------------------------------------------------------
    "accounts:data": Route(GET=_signed_in(200), POST=_signed_in(405)),
    "accounts:data_export": Route(GET=_signed_in(200), POST=_signed_in(405)),
    "accounts:delete": Route(
        GET=_signed_in(200),
        POST=_signed_in(400),  # not confirmed (an erasure would end the actor's session)
        data=lambda w: {"password": ""},
    ),
    # --- teams -------------------------------------------------------------------------------------
    "accounts:teams": Route(GET=_staff_pages(200), POST=_staff_pages(405)),
    "accounts:team_create": Route(
        GET=_staff_pages(200),
        POST=_staff_pages(302),
        data=lambda w: {"name": "Matrix Team", "slug": "matrix-team", "description": ""},
    ),
    "accounts:team": Route(kwargs=_team, GET=_team_read(200), POST=_team_method_refused()),
    "accounts:team_invite": Route(
        kwargs=_team,
        GET=_team_manage(200),
        POST=_team_manage(302),
        data=lambda w: {"email": "invitee@example.com", "role": "member"},
        allow_403=True,  # the site admin (who can read the team) may not invite
    ),
    "accounts:invitation_revoke": Route(
        kwargs=lambda w: {"slug": w.teams["x"].slug, "invitation_id": w.objects["invitation_pending_x"].pk},
        GET=_team_method_refused(),
        POST=_team_manage(302),
        allow_403=True,
    ),
    "accounts:member_role": Route(
        kwargs=_member,
        GET=_team_method_refused(),
        POST=_team_manage(302),
        data=lambda w: {"role": "member"},
        allow_403=True,
    ),
    "accounts:member_remove": Route(
        kwargs=_member,
        GET=_team_method_refused(),
        POST=_team_manage(302),
        allow_403=True,
    ),
    # The site admin is not a member: nothing to leave (404).
    "accounts:team_leave": Route(
        kwargs=_team,
        GET=_team_method_refused(),
        POST=_team_manage(302, admin=404),
    ),
    "accounts:team_permissions": Route(
        kwargs=_team,
        GET=_team_read(200),
        POST=_team_manage(302),
        # The default table, so nothing changes for the other entries even if a cache kept it.
        data=lambda w: {
            **{f"admin:{p}": "on" for p in _all_permissions()},
            **{f"member:{p}": "on" for p in ("task.view", "task.create", "task.edit_own", "task.assign")},
            "member:comment.create": "on",
            "guest:task.view": "on",
        },
        allow_403=True,
    ),
    # --- invitations -------------------------------------------------------------------------------
    # The link is the credential: anyone holding it sees the invitation; only the invited
    # account (staff_y, signed in) may accept it. Everyone else is refused with 403: the
    # invitation page was already shown to them, so the status reveals nothing.
    "accounts:invitation": Route(
        kwargs=lambda w: {"token": w.objects["invite_token_staff_y"]},
        GET=everyone(200),
        POST=statuses(anon=403, traveller_a=403, traveller_b=403, staff_x=403, staff_y=302, admin=403),
        allow_403=True,
    ),
}


def _all_permissions() -> list[str]:
    from accounts.permissions import PERMISSIONS

    return list(PERMISSIONS)
