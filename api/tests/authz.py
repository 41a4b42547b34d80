"""The site-wide authorization matrix's entries for /api/ (signed-in actors use the session;
format: taskforge/testing/authz.py). Tokens, scopes and every method are covered by
api/tests/test_api_matrix.py; here each API URL pattern is tried as the site's personas.

Anonymous callers get 401 (an API does not redirect to a sign-in page)."""

from __future__ import annotations

from typing import Any

from taskforge.testing.authz import Route, World, capability, everyone, only, signed_in, team_x
from tasks.models import TaskComment

UNAUTHORIZED = 401
BAD_RANGE = {"start": "2025-02-01", "end": "2025-01-01"}


def _team(w: World) -> dict[str, Any]:
    return {"slug": w.teams["x"].slug}


def _co_admin(w: World) -> dict[str, Any]:
    return {"slug": w.teams["x"].slug, "user_id": w.objects["co_admin_x"].pk}


def _member_comment_back(w: World) -> None:
    """A deleted comment's document is not brought back by the per-request rollback."""
    doc = w.objects["comment_x_member_doc"]
    if not TaskComment.objects.filter(pk=doc.pk).exists():
        doc.save(force_insert=True)


def _booking(w: World) -> dict[str, Any]:
    return {"booking_id": w.objects["booking_traveller"].pk}


def _new_booking(w: World) -> dict[str, Any]:
    trip = w.objects["trip"]
    return {
        "trip_code": trip.code,
        "travel_date": trip.start.isoformat(),
        "travellers": 1,
        "expected_total_minor": trip.price_minor,
    }


def _invitation(w: World) -> dict[str, Any]:
    return {"slug": w.teams["x"].slug, "invitation_id": w.objects["invitation_pending_x"].pk}


MATRIX: dict[str, Route | list[Route]] = {
    "api:schema": Route(GET=everyone(200)),
    "api:docs": Route(GET=everyone(200)),
    "api:unknown": Route(
        path=lambda w: "/api/v1/no/such/thing/", GET=everyone(404), POST=everyone(404), DELETE=everyone(404)
    ),
    "api_unknown": Route(path=lambda w: "/api/v0/", GET=everyone(404), POST=everyone(404)),
    # PATCH with no body changes nothing (every field is optional).
    "api:me": Route(GET=signed_in(200, anon=UNAUTHORIZED), PATCH=signed_in(200, anon=UNAUTHORIZED)),
    "api:teams": Route(GET=signed_in(200, anon=UNAUTHORIZED)),
    "api:team": Route(kwargs=_team, GET=team_x(guest=200, member=200, admin=200, site_admin=200, anon=UNAUTHORIZED)),
    "api:team_members": Route(
        kwargs=_team, GET=team_x(guest=200, member=200, admin=200, site_admin=200, anon=UNAUTHORIZED)
    ),
    # PATCH with no body: the role is missing (400) for those who may see the team.
    "api:team_member": Route(
        kwargs=_co_admin,
        allow_403=True,
        PATCH=team_x(guest=400, member=400, admin=400, site_admin=400, anon=UNAUTHORIZED),
        DELETE=team_x(guest=403, member=403, admin=204, site_admin=403, anon=UNAUTHORIZED),
    ),
    "api:team_invitations": Route(
        kwargs=_team,
        allow_403=True,
        GET=team_x(guest=403, member=403, admin=200, site_admin=403, anon=UNAUTHORIZED),
        POST=team_x(guest=403, member=403, admin=201, site_admin=403, anon=UNAUTHORIZED),
        data=lambda w: {"email": "matrix-api-invite@example.com", "role": "member"},
    ),
    "api:team_invitation": Route(
        kwargs=_invitation,
        allow_403=True,
        DELETE=team_x(guest=403, member=403, admin=204, site_admin=403, anon=UNAUTHORIZED),
    ),
    "api:trips": Route(GET=everyone(200)),
    "api:trip": Route(kwargs=lambda w: {"code": w.objects["trip"].code}, GET=everyone(200)),
    # Tasks: team x's (site admins are in no team: 404). Without If-Match an update or a move
    # of a task one may change answers 428; the matrix sends "*" (any current version).
    "api:tasks": Route(
        GET=signed_in(200, anon=UNAUTHORIZED),
        POST=team_x(guest=403, member=201, admin=201, anon=UNAUTHORIZED),
        data=lambda w: {"team": w.teams["x"].slug, "title": "From the site matrix"},
        allow_403=True,
    ),
    "api:task": Route(
        kwargs=lambda w: {"task_id": w.objects["task_x"].id},
        extra={"HTTP_IF_MATCH": "*"},
        allow_403=True,
        GET=team_x(guest=200, member=200, admin=200, anon=UNAUTHORIZED),
        PATCH=team_x(guest=403, member=403, admin=200, anon=UNAUTHORIZED),
        DELETE=team_x(guest=403, member=403, admin=204, anon=UNAUTHORIZED),
    ),
    "api:task_move": Route(
        kwargs=lambda w: {"task_id": w.objects["task_x_member"].id},
        extra={"HTTP_IF_MATCH": "*"},
        data=lambda w: {"status": "in_progress"},
        allow_403=True,
        POST=team_x(guest=403, member=200, admin=200, anon=UNAUTHORIZED),
    ),
    "api:notifications": Route(GET=signed_in(200, anon=UNAUTHORIZED)),
    "api:notifications_read_all": Route(POST=signed_in(200, anon=UNAUTHORIZED)),
    "api:notification_read": Route(
        kwargs=lambda w: {"notification_id": w.objects["notification_x"]},
        POST=signed_in(404, team_admin=200, anon=UNAUTHORIZED),  # team_admin's own
    ),
    # Comments on team x's task: guests read, members and admins comment; one's own comment
    # (member) or anyone's (admin: comment.moderate) is edited or deleted.
    "api:task_comments": Route(
        kwargs=lambda w: {"task_id": w.objects["task_x"].id},
        data=lambda w: {"body": "From the site matrix"},
        allow_403=True,
        GET=team_x(guest=200, member=200, admin=200, anon=UNAUTHORIZED),
        POST=team_x(guest=403, member=201, admin=201, anon=UNAUTHORIZED),
    ),
    # The member's own comment (put back before each request). No body: a PATCH by whoever
    # may change it answers 400 (the text is missing); the API matrix sends the JSON bodies.
    "api:task_comment": Route(
        kwargs=lambda w: {"task_id": w.objects["task_x"].id, "comment_id": w.objects["comment_x_member"]},
        allow_403=True,
        before=_member_comment_back,
        PATCH=team_x(guest=403, member=400, admin=400, anon=UNAUTHORIZED),
        DELETE=team_x(guest=403, member=204, admin=204, anon=UNAUTHORIZED),
    ),
    # Uploads are multipart; the site matrix's body is no file: 400 for who may change the task.
    "api:task_attachments": Route(
        kwargs=lambda w: {"task_id": w.objects["task_x"].id},
        allow_403=True,
        POST=team_x(guest=403, member=403, admin=400, anon=UNAUTHORIZED),
    ),
    "api:task_attachment": Route(
        kwargs=lambda w: {"task_id": w.objects["task_x"].id, "attachment_id": w.objects["attachment_x"]},
        GET=team_x(guest=200, member=200, admin=200, anon=UNAUTHORIZED),
    ),
    # --- bookings (api/views/bookings.py) ---
    "api:trip_departures": Route(kwargs=lambda w: {"code": w.objects["trip"].code}, GET=everyone(200)),
    "api:bookings": Route(
        GET=signed_in(200, anon=UNAUTHORIZED), POST=signed_in(201, anon=UNAUTHORIZED), data=_new_booking
    ),
    "api:booking": Route(kwargs=_booking, GET=only(200, "traveller", "booking_desk", "site_admin", anon=UNAUTHORIZED)),
    "api:booking_refund_quote": Route(
        kwargs=_booking, GET=only(200, "traveller", "booking_desk", "site_admin", anon=UNAUTHORIZED)
    ),
    # The desk sees the booking but cancels it on its own endpoint, with a reason (403).
    "api:booking_cancel": Route(
        kwargs=_booking,
        allow_403=True,
        POST=only(200, "traveller", booking_desk=403, site_admin=403, anon=UNAUTHORIZED),
    ),
    "api:desk_bookings": Route(GET=capability("booking_desk", 200, anon=UNAUTHORIZED)),
    "api:desk_booking_confirm": Route(kwargs=_booking, POST=capability("booking_desk", 200, anon=UNAUTHORIZED)),
    "api:desk_booking_payment": Route(
        kwargs=_booking,
        POST=capability("booking_desk", 200, anon=UNAUTHORIZED),
        data=lambda w: {"reference": "PAY-MATRIX-1"},
    ),
    "api:desk_booking_cancel": Route(
        kwargs=_booking,
        POST=capability("booking_desk", 200, anon=UNAUTHORIZED),
        data=lambda w: {"reason": "Matrix check"},
    ),
    # --- reports (api/views/reports.py): a reversed range is refused (400) before the star is read ---
    "api:report_revenue": Route(
        kwargs=lambda w: {"period_name": "daily"},
        query=lambda w: BAD_RANGE,
        GET=capability("reports_reader", 400, anon=UNAUTHORIZED),
    ),
    "api:report_resorts": Route(query=lambda w: BAD_RANGE, GET=capability("reports_reader", 400, anon=UNAUTHORIZED)),
    "api:report_seats": Route(query=lambda w: BAD_RANGE, GET=capability("reports_reader", 400, anon=UNAUTHORIZED)),
    "api:report_tasks": Route(
        query=lambda w: BAD_RANGE,
        GET=team_x(guest=400, member=400, admin=400, site_admin=400, anon=UNAUTHORIZED),
    ),
}
