"""The API's authorization matrix: every endpoint x every actor x its methods, allowed and
refused sides, with personal access tokens.

ENDPOINTS is the table others extend (tasks, comments, notifications, bookings, webhooks):
append `Endpoint(...)` rows, with `make` hooks in MAKERS for the objects they need.
`test_every_api_operation_is_in_the_matrix` fails for an operation of the schema that has
no row. Each request runs in a savepoint that is rolled back.

Actors: anon (no token); traveller, team_guest, team_member, team_admin (roles in team x),
booking_desk, catalogue_editor, site_admin (read-write tokens each); read_token (a
read-only token of team_admin), revoked_token and expired_token (team_admin's).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.urls import reverse
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from accounts.services.invitations import invitation_create
from api.tests.conftest import bearer, trip_make
from bookings.services import booking_create
from taskforge.testing.personas import acting

ACTORS = (
    "anon",
    "traveller",
    "team_guest",
    "team_member",
    "team_admin",
    "booking_desk",
    "catalogue_editor",
    "site_admin",
    "read_token",
    "revoked_token",
    "expired_token",
)
TEAM_X = ("team_guest", "team_member", "team_admin")
OUTSIDERS = ("traveller", "booking_desk", "catalogue_editor")
DEAD = ("revoked_token", "expired_token")


@dataclass
class World:
    people: Any
    secrets: dict[str, str | None]
    objects: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Endpoint:
    """One method of one path and what each actor gets."""

    method: str
    path: Callable[[World], str]
    expect: dict[str, int]
    operation: str  # the schema's operationId
    data: Callable[[World], dict[str, Any]] | None = None
    label: str = ""
    headers: dict[str, str] | None = None  # extra request headers as WSGI keys (HTTP_IF_MATCH)
    before: Callable[[World], None] | None = None  # before each actor's request (what a rollback cannot undo)

    def __post_init__(self) -> None:
        missing = set(ACTORS) - set(self.expect)
        if missing:
            raise TypeError(f"{self.operation} {self.label}: no status for {sorted(missing)}")


def table(default: int, **overrides: int) -> dict[str, int]:
    """`default` for every live credential; no or dead credentials: 401."""
    unknown = set(overrides) - set(ACTORS)
    if unknown:
        raise TypeError(f"not actors: {sorted(unknown)}")
    return {**dict.fromkeys(ACTORS, default), "anon": 401, **dict.fromkeys(DEAD, 401), **overrides}


def public(status: int = 200, **overrides: int) -> dict[str, int]:
    """No token needed; a dead token is still refused."""
    return table(status, anon=status, **overrides)


def team_x(*, guest: int, member: int, admin: int, site_admin: int, read: int, others: int = 404) -> dict[str, int]:
    """Team x's endpoints: by team role; the read token is team_admin's."""
    return table(others, team_guest=guest, team_member=member, team_admin=admin, site_admin=site_admin, read_token=read)


def write(status: int, **overrides: int) -> dict[str, int]:
    """A change: a read-only token is refused (403)."""
    return table(status, read_token=403, **overrides)


def _x(w: World) -> str:
    return w.people.x.slug


MAKERS: list[Callable[[World], dict[str, Any]]] = []


def _accounts_objects(w: World) -> dict[str, Any]:
    people = w.people
    with acting(people.team_admin):
        pending_x, _ = invitation_create(
            actor=people.team_admin, team=people.x, email="pending-x@example.com", role="guest"
        )
    with acting(people.y_admin):
        pending_y, _ = invitation_create(
            actor=people.y_admin, team=people.y, email="pending-y@example.com", role="guest"
        )
    return {"invitation_x": pending_x, "invitation_y": pending_y}


def _trip_objects(w: World) -> dict[str, Any]:
    editor = w.people.catalogue_editor
    return {"trip": trip_make(editor, "API-1"), "trip_off_sale": trip_make(editor, "API-OFF", active=False)}


def _task_objects(w: World) -> dict[str, Any]:
    from tasks.services import task_create

    people = w.people
    with acting(people.team_admin):
        task_x = task_create(actor=people.team_admin, team_id=people.x.pk, title="Matrix task")
    with acting(people.team_member):
        task_x_member = task_create(actor=people.team_member, team_id=people.x.pk, title="Member's task")
    with acting(people.y_admin):
        task_y = task_create(actor=people.y_admin, team_id=people.y.pk, title="Team y task")
    from tasks.models import Notification

    Notification.objects.create(
        id="api-matrix-notification",
        user_id=people.team_admin.pk,
        kind="task_assigned",
        task_id=str(task_x.id),
        team_id=people.x.pk,
        title="Matrix task",
        message="m",
        created_at=task_x.created_at,
    )
    return {"task_x": task_x, "task_x_member": task_x_member, "task_y": task_y}


MAKERS += [_accounts_objects, _trip_objects, _task_objects]


def _comment_objects(w: World) -> dict[str, Any]:
    from tasks.models import TaskComment
    from tasks.services import comment_create, task_attachment_add

    people, task_x = w.people, w.objects["task_x"]
    with acting(people.team_admin):
        admins = comment_create(actor=people.team_admin, task_id=task_x.id, body="The admin's comment")
    with acting(people.team_member):
        members = comment_create(actor=people.team_member, task_id=task_x.id, body="The member's comment")
    with acting(people.y_admin):
        y = comment_create(actor=people.y_admin, task_id=w.objects["task_y"].id, body="Team y's comment")
        file_y = task_attachment_add(
            actor=people.y_admin, task_id=w.objects["task_y"].id, upload=SimpleUploadedFile("y.txt", b"y\n")
        )
    with acting(people.team_admin):
        file_x = task_attachment_add(
            actor=people.team_admin, task_id=task_x.id, upload=SimpleUploadedFile("x.txt", b"x\n")
        )
    return {
        "attachment_x": file_x["id"],
        "attachment_y": file_y["id"],
        "comment_x": admins["cid"],
        "comment_x_member": members["cid"],
        "comment_x_member_doc": TaskComment.objects.get(pk=members["cid"]),
        "comment_y": y["cid"],
    }


def _member_comment_back(w: World) -> None:
    """A deleted comment's document is not brought back by the per-request rollback."""
    from tasks.models import TaskComment

    doc = w.objects["comment_x_member_doc"]
    if not TaskComment.objects.filter(pk=doc.pk).exists():
        doc.save(force_insert=True)


MAKERS += [_comment_objects]


def _booking_objects(w: World) -> dict[str, Any]:
    trip, traveller = w.objects["trip"], w.people.traveller
    with acting(traveller):
        booking, _ = booking_create(
            actor=traveller, trip_code=trip.code, travel_date=trip.start, travellers=2,
            idempotency_key=uuid.uuid4(), expected_total_minor=trip.price_minor * 2,
        )  # fmt: skip
    return {"booking": booking}


MAKERS += [_booking_objects]


def _new_booking(w: World, **changes: Any) -> dict[str, Any]:
    trip = w.objects["trip"]
    return {
        "trip_code": trip.code,
        "travel_date": trip.start.isoformat(),
        "travellers": 1,
        "expected_total_minor": trip.price_minor,
        **changes,
    }


def _b(w: World, action: str = "") -> str:
    return f"/api/v1/bookings/{w.objects['booking'].pk}/{action}"


def _desk(w: World, action: str) -> str:
    return f"/api/v1/desk/bookings/{w.objects['booking'].pk}/{action}/"


OWNER_OR_DESK = table(404, traveller=200, booking_desk=200, site_admin=200)
DESK_ONLY = table(404, booking_desk=200, site_admin=200)
DESK_WRITE = write(404, booking_desk=200, site_admin=200)
BAD_RANGE = "start=2025-02-01&end=2025-01-01"
REPORT_READERS = table(404, site_admin=400)  # no reports reader among the actors: test_api_reports.py

TEAM_READ = team_x(guest=200, member=200, admin=200, site_admin=200, read=200)
TASK_READ = team_x(guest=200, member=200, admin=200, site_admin=404, read=200)  # site admins: in no team
COMMENT_WRITE = team_x(guest=403, member=201, admin=201, site_admin=404, read=403)
OWN_COMMENT = team_x(guest=403, member=200, admin=200, site_admin=404, read=403)  # author; admin moderates
ADMINS_COMMENT = team_x(guest=403, member=403, admin=200, site_admin=404, read=403)


def _comments(w: World, task: str = "task_x") -> str:
    return f"/api/v1/tasks/{w.objects[task].id}/comments/"


ENDPOINTS: list[Endpoint] = [
    # --- docs ----------------------------------------------------------------------------------
    Endpoint("GET", lambda w: "/api/v1/schema/", {a: 200 for a in ACTORS}, "schema"),
    Endpoint("GET", lambda w: "/api/v1/docs/", {a: 200 for a in ACTORS}, "docs"),
    Endpoint("GET", lambda w: "/api/v1/no/such/endpoint/", {a: 404 for a in ACTORS}, "unknown"),
    Endpoint("DELETE", lambda w: "/api/v1/no/such/endpoint/", {a: 404 for a in ACTORS}, "unknown"),
    # --- me ------------------------------------------------------------------------------------
    Endpoint("GET", lambda w: "/api/v1/me/", table(200), "me_read"),
    Endpoint("PATCH", lambda w: "/api/v1/me/", write(200), "me_update", data=lambda w: {"bio": "From the matrix"}),
    Endpoint("PUT", lambda w: "/api/v1/me/", write(405), "me_update", label="no PUT"),
    Endpoint("DELETE", lambda w: "/api/v1/me/", write(405), "me_update", label="no DELETE"),
    # --- teams ---------------------------------------------------------------------------------
    Endpoint("GET", lambda w: "/api/v1/teams/", table(200), "teams_list"),
    Endpoint("POST", lambda w: "/api/v1/teams/", write(405), "teams_list", label="no POST"),
    Endpoint("GET", lambda w: f"/api/v1/teams/{_x(w)}/", TEAM_READ, "team_read"),
    Endpoint(
        "GET", lambda w: f"/api/v1/teams/{w.people.y.slug}/", table(404, site_admin=200), "team_read", label="team y"
    ),
    Endpoint("GET", lambda w: "/api/v1/teams/no-such-team/", table(404), "team_read", label="missing"),
    Endpoint("GET", lambda w: f"/api/v1/teams/{_x(w)}/members/", TEAM_READ, "team_members_list"),
    Endpoint(
        "GET",
        lambda w: f"/api/v1/teams/{w.people.y.slug}/members/",
        table(404, site_admin=200),
        "team_members_list",
        label="team y",
    ),
    Endpoint(
        "PATCH",
        lambda w: f"/api/v1/teams/{_x(w)}/members/{w.people.team_guest.pk}/",
        team_x(guest=403, member=403, admin=200, site_admin=403, read=403),
        "team_member_role_change",
        data=lambda w: {"role": "member"},
    ),
    Endpoint(
        "PATCH",
        lambda w: f"/api/v1/teams/{w.people.y.slug}/members/{w.people.y_admin.pk}/",
        table(404, site_admin=403, read_token=403),
        "team_member_role_change",
        data=lambda w: {"role": "member"},
        label="team y",
    ),
    Endpoint(
        "DELETE",
        lambda w: f"/api/v1/teams/{_x(w)}/members/{w.people.team_guest.pk}/",
        team_x(guest=403, member=403, admin=204, site_admin=403, read=403),
        "team_member_remove",
    ),
    Endpoint(
        "DELETE",
        lambda w: f"/api/v1/teams/{_x(w)}/members/999999999/",
        team_x(guest=403, member=403, admin=404, site_admin=403, read=403),
        "team_member_remove",
        label="not a member",
    ),
    Endpoint(
        "GET",
        lambda w: f"/api/v1/teams/{_x(w)}/invitations/",
        team_x(guest=403, member=403, admin=200, site_admin=403, read=200),
        "team_invitations_list",
    ),
    Endpoint(
        "POST",
        lambda w: f"/api/v1/teams/{_x(w)}/invitations/",
        team_x(guest=403, member=403, admin=201, site_admin=403, read=403),
        "team_invitation_create",
        data=lambda w: {"email": "matrix-new@example.com", "role": "member"},
    ),
    Endpoint(
        "POST",
        lambda w: f"/api/v1/teams/{w.people.y.slug}/invitations/",
        table(404, site_admin=403, read_token=403),
        "team_invitation_create",
        data=lambda w: {"email": "matrix-new@example.com", "role": "member"},
        label="team y",
    ),
    Endpoint(
        "DELETE",
        lambda w: f"/api/v1/teams/{_x(w)}/invitations/{w.objects['invitation_x'].pk}/",
        team_x(guest=403, member=403, admin=204, site_admin=403, read=403),
        "team_invitation_revoke",
    ),
    Endpoint(
        "DELETE",
        lambda w: f"/api/v1/teams/{_x(w)}/invitations/{w.objects['invitation_y'].pk}/",
        team_x(guest=403, member=403, admin=404, site_admin=403, read=403),
        "team_invitation_revoke",
        label="team y's invitation under team x",
    ),
    # --- trips (public) ------------------------------------------------------------------------
    Endpoint("GET", lambda w: "/api/v1/trips/", public(), "trips_search"),
    Endpoint("GET", lambda w: "/api/v1/trips/?q=lakse", public(), "trips_search", label="typo search"),
    Endpoint("GET", lambda w: "/api/v1/trips/?length_min=9&length_max=3", public(400), "trips_search", label="bad"),
    Endpoint("POST", lambda w: "/api/v1/trips/", public(405, read_token=403), "trips_search", label="no POST"),
    Endpoint("GET", lambda w: f"/api/v1/trips/{w.objects['trip'].code}/", public(), "trip_read"),
    Endpoint(
        "GET",
        lambda w: f"/api/v1/trips/{w.objects['trip_off_sale'].code}/",
        public(404, catalogue_editor=200, site_admin=200),
        "trip_read",
        label="off sale",
    ),
    # --- tasks ---------------------------------------------------------------------------------
    Endpoint("GET", lambda w: "/api/v1/tasks/", table(200), "tasks_list"),
    Endpoint("GET", lambda w: f"/api/v1/tasks/?team={_x(w)}", TASK_READ, "tasks_list", label="team x"),
    Endpoint("GET", lambda w: f"/api/v1/tasks/?team={_x(w)}&q=matrx", TASK_READ, "tasks_list", label="search"),
    Endpoint("GET", lambda w: f"/api/v1/tasks/?team={w.people.y.slug}", table(404), "tasks_list", label="team y"),
    Endpoint("GET", lambda w: "/api/v1/tasks/?status=later", table(400), "tasks_list", label="bad filter"),
    Endpoint(
        "POST",
        lambda w: "/api/v1/tasks/",
        team_x(guest=403, member=201, admin=201, site_admin=404, read=403),
        "task_create",
        data=lambda w: {"team": _x(w), "title": "From the matrix"},
    ),
    Endpoint(
        "POST",
        lambda w: "/api/v1/tasks/",
        table(404, read_token=403),
        "task_create",
        data=lambda w: {"team": w.people.y.slug, "title": "From the matrix"},
        label="team y",
    ),
    Endpoint("GET", lambda w: f"/api/v1/tasks/{w.objects['task_x'].id}/", TASK_READ, "task_read"),
    Endpoint("GET", lambda w: f"/api/v1/tasks/{w.objects['task_y'].id}/", table(404), "task_read", label="team y"),
    Endpoint(
        "PATCH",
        lambda w: f"/api/v1/tasks/{w.objects['task_x'].id}/",
        team_x(guest=403, member=403, admin=200, site_admin=404, read=403),
        "task_update",
        data=lambda w: {"priority": "urgent"},
        headers={"HTTP_IF_MATCH": "*"},
        label="the admin's task",
    ),
    Endpoint(
        "PATCH",
        lambda w: f"/api/v1/tasks/{w.objects['task_x_member'].id}/",
        team_x(guest=403, member=200, admin=200, site_admin=404, read=403),
        "task_update",
        data=lambda w: {"priority": "urgent"},
        headers={"HTTP_IF_MATCH": "*"},
        label="the member's task",
    ),
    Endpoint(
        "PATCH",
        lambda w: f"/api/v1/tasks/{w.objects['task_x_member'].id}/",
        team_x(guest=403, member=428, admin=428, site_admin=404, read=403),
        "task_update",
        data=lambda w: {"priority": "urgent"},
        label="no If-Match",
    ),
    Endpoint(
        "PATCH",
        lambda w: f"/api/v1/tasks/{w.objects['task_y'].id}/",
        table(404, read_token=403),
        "task_update",
        data=lambda w: {"priority": "urgent"},
        headers={"HTTP_IF_MATCH": "*"},
        label="team y",
    ),
    Endpoint(
        "DELETE",
        lambda w: f"/api/v1/tasks/{w.objects['task_x_member'].id}/",
        team_x(guest=403, member=403, admin=204, site_admin=404, read=403),
        "task_delete",
    ),
    Endpoint("DELETE", lambda w: f"/api/v1/tasks/{w.objects['task_y'].id}/", table(404, read_token=403), "task_delete"),
    Endpoint(
        "POST",
        lambda w: f"/api/v1/tasks/{w.objects['task_x_member'].id}/move/",
        team_x(guest=403, member=200, admin=200, site_admin=404, read=403),
        "task_move",
        data=lambda w: {"status": "in_progress"},
        headers={"HTTP_IF_MATCH": "*"},
    ),
    Endpoint(
        "POST",
        lambda w: f"/api/v1/tasks/{w.objects['task_x'].id}/move/",
        team_x(guest=403, member=403, admin=412, site_admin=404, read=403),
        "task_move",
        data=lambda w: {"status": "in_progress"},
        headers={"HTTP_IF_MATCH": '"task-0-v1"'},
        label="stale If-Match",
    ),
    Endpoint(
        "POST",
        lambda w: f"/api/v1/tasks/{w.objects['task_y'].id}/move/",
        table(404, read_token=403),
        "task_move",
        data=lambda w: {"status": "in_progress"},
        headers={"HTTP_IF_MATCH": "*"},
        label="team y",
    ),
    # --- notifications (each person's own) --------------------------------------------------------
    Endpoint("GET", lambda w: "/api/v1/notifications/", table(200), "notifications_list"),
    Endpoint("POST", lambda w: "/api/v1/notifications/read-all/", write(200), "notifications_read_all"),
    Endpoint(
        "POST",
        lambda w: "/api/v1/notifications/api-matrix-notification/read/",
        write(404, team_admin=200),  # team_admin's; the read token is team_admin's too: 403
        "notification_read",
    ),
    # --- comments (team x's task_x; the member's own comment and the admin's) ----------------------
    Endpoint("GET", lambda w: _comments(w), TASK_READ, "comments_list"),
    Endpoint("GET", lambda w: _comments(w, "task_y"), table(404), "comments_list", label="team y"),
    Endpoint(
        "POST", lambda w: _comments(w), COMMENT_WRITE, "comment_create", data=lambda w: {"body": "From the matrix"}
    ),
    Endpoint(
        "POST",
        lambda w: _comments(w),
        team_x(guest=403, member=400, admin=400, site_admin=404, read=403),
        "comment_create",
        data=lambda w: {"body": ""},
        label="empty",
    ),
    Endpoint(
        "POST",
        lambda w: _comments(w, "task_y"),
        table(404, read_token=403),
        "comment_create",
        data=lambda w: {"body": "From the matrix"},
        label="team y",
    ),
    Endpoint(
        "PATCH",
        lambda w: _comments(w) + f"{w.objects['comment_x_member']}/",
        OWN_COMMENT,
        "comment_update",
        data=lambda w: {"body": "Edited by the matrix"},
        label="the member's comment",
    ),
    Endpoint(
        "PATCH",
        lambda w: _comments(w) + f"{w.objects['comment_x']}/",
        ADMINS_COMMENT,
        "comment_update",
        data=lambda w: {"body": "Edited by the matrix"},
        label="the admin's comment",
    ),
    Endpoint(
        "PATCH",
        lambda w: _comments(w) + "665f1c2a8e4b2a0012345678/",
        team_x(guest=404, member=404, admin=404, site_admin=404, read=403),
        "comment_update",
        data=lambda w: {"body": "Edited by the matrix"},
        label="no such comment",
    ),
    Endpoint(
        "PATCH",
        lambda w: _comments(w, "task_y") + f"{w.objects['comment_y']}/",
        table(404, read_token=403),
        "comment_update",
        data=lambda w: {"body": "Edited by the matrix"},
        label="team y",
    ),
    Endpoint(
        "DELETE",
        lambda w: _comments(w) + f"{w.objects['comment_x_member']}/",
        team_x(guest=403, member=204, admin=204, site_admin=404, read=403),
        "comment_delete",
        label="the member's comment",
        before=_member_comment_back,
    ),
    Endpoint(
        "DELETE",
        lambda w: _comments(w) + f"{w.objects['comment_x']}/",
        team_x(guest=403, member=403, admin=204, site_admin=404, read=403),
        "comment_delete",
        label="the admin's comment",
    ),
    Endpoint(
        "DELETE",
        lambda w: _comments(w, "task_y") + f"{w.objects['comment_y']}/",
        table(404, read_token=403),
        "comment_delete",
        label="team y",
    ),
    # --- attachments (multipart uploads: the matrix's JSON body is refused with 415 after the
    # permission check; api/tests/test_api_comments.py uploads real files) ----------------------
    Endpoint(
        "POST",
        lambda w: f"/api/v1/tasks/{w.objects['task_x_member'].id}/attachments/",
        team_x(guest=403, member=415, admin=415, site_admin=404, read=403),
        "attachment_upload",
        data=lambda w: {"file": "not a file"},
    ),
    Endpoint(
        "POST",
        lambda w: f"/api/v1/tasks/{w.objects['task_x'].id}/attachments/",
        team_x(guest=403, member=403, admin=415, site_admin=404, read=403),
        "attachment_upload",
        data=lambda w: {"file": "not a file"},
        label="the admin's task",
    ),
    Endpoint(
        "GET",
        lambda w: f"/api/v1/tasks/{w.objects['task_x'].id}/attachments/{w.objects['attachment_x']}/",
        TASK_READ,
        "attachment_download",
    ),
    Endpoint(
        "GET",
        lambda w: f"/api/v1/tasks/{w.objects['task_y'].id}/attachments/{w.objects['attachment_y']}/",
        table(404),
        "attachment_download",
        label="team y",
    ),
    # --- bookings (api/views/bookings.py) ------------------------------------------------------
    Endpoint("GET", lambda w: f"/api/v1/trips/{w.objects['trip'].code}/departures/", public(), "trip_departures_list"),
    Endpoint(
        "GET",
        lambda w: f"/api/v1/trips/{w.objects['trip_off_sale'].code}/departures/",
        public(404, catalogue_editor=200, site_admin=200),
        "trip_departures_list",
        label="off sale",
    ),
    Endpoint(
        "GET", lambda w: "/api/v1/trips/NO-SUCH/departures/", public(404), "trip_departures_list", label="missing"
    ),
    Endpoint("GET", lambda w: "/api/v1/bookings/", table(200), "bookings_list"),
    Endpoint("POST", lambda w: "/api/v1/bookings/", write(201), "booking_create", data=_new_booking),
    Endpoint(
        "POST",
        lambda w: "/api/v1/bookings/",
        write(400),
        "booking_create",
        data=lambda w: _new_booking(w, expected_total_minor=1),
        label="wrong total",
    ),
    Endpoint(
        "POST",
        lambda w: "/api/v1/bookings/",
        write(409),
        "booking_create",
        data=lambda w: _new_booking(w, trip_code=w.objects["trip_off_sale"].code),
        label="off sale",
    ),
    Endpoint(
        "POST",
        lambda w: "/api/v1/bookings/",
        write(404),
        "booking_create",
        data=lambda w: _new_booking(w, trip_code="NO-SUCH"),
        label="no such trip",
    ),
    Endpoint("DELETE", lambda w: "/api/v1/bookings/", write(405), "bookings_list", label="no DELETE"),
    Endpoint("GET", lambda w: _b(w), OWNER_OR_DESK, "booking_read"),
    Endpoint("GET", lambda w: "/api/v1/bookings/999999999/", table(404), "booking_read", label="missing"),
    Endpoint("DELETE", lambda w: _b(w), write(405), "booking_read", label="no DELETE"),
    Endpoint("GET", lambda w: _b(w, "refund-quote/"), OWNER_OR_DESK, "booking_refund_quote"),
    Endpoint(
        "POST",
        lambda w: _b(w, "cancel/"),
        write(404, traveller=200, booking_desk=403, site_admin=403),
        "booking_cancel",
    ),
    Endpoint("GET", lambda w: _b(w, "cancel/"), table(405), "booking_cancel", label="no GET"),
    Endpoint("GET", lambda w: "/api/v1/desk/bookings/", DESK_ONLY, "desk_bookings_list"),
    Endpoint(
        "GET",
        lambda w: "/api/v1/desk/bookings/?travel_from=someday",
        table(404, booking_desk=400, site_admin=400),
        "desk_bookings_list",
        label="bad filter",
    ),
    Endpoint("POST", lambda w: _desk(w, "confirm"), DESK_WRITE, "desk_booking_confirm"),
    Endpoint(
        "POST",
        lambda w: _desk(w, "payment"),
        DESK_WRITE,
        "desk_booking_payment",
        data=lambda w: {"reference": "PAY-2026-0042"},
    ),
    Endpoint(
        "POST",
        lambda w: _desk(w, "payment"),
        write(404, booking_desk=400, site_admin=400),
        "desk_booking_payment",
        data=lambda w: {"reference": "<script>"},
        label="bad reference",
    ),
    Endpoint(
        "POST",
        lambda w: _desk(w, "cancel"),
        DESK_WRITE,
        "desk_booking_cancel",
        data=lambda w: {"reason": "Hotel closed", "full_refund": True},
    ),
    Endpoint(
        "POST",
        lambda w: _desk(w, "cancel"),
        write(404, booking_desk=400, site_admin=400),
        "desk_booking_cancel",
        data=lambda w: {"reason": ""},
        label="no reason",
    ),
    # --- reports (api/views/reports.py): the figures are tested in test_api_reports.py; a
    # reversed range is refused (400) before the star schema is read ---
    *(
        Endpoint("GET", lambda w, p=path: f"/api/v1/reports/{p}/?{BAD_RANGE}", REPORT_READERS, op)
        for path, op in (
            ("revenue/daily", "report_revenue"),
            ("resorts", "report_resorts"),
            ("seats", "report_seats"),
        )
    ),
    Endpoint("GET", lambda w: "/api/v1/reports/revenue/weekly/", table(404), "report_revenue", label="no such period"),
    Endpoint(
        "GET",
        lambda w: f"/api/v1/reports/tasks/?{BAD_RANGE}",
        team_x(guest=400, member=400, admin=400, site_admin=400, read=400),
        "report_tasks",
    ),
    Endpoint("POST", lambda w: "/api/v1/reports/seats/", write(405), "report_seats", label="no POST"),
]


@pytest.fixture
def world(people, token_for) -> World:
    secrets: dict[str, str | None] = {"anon": None}
    for actor in ACTORS[1:8]:
        secrets[actor] = token_for(getattr(people, actor))
    secrets["read_token"] = token_for(people.team_admin, scope="read")
    secrets["revoked_token"] = token_for(people.team_admin, revoked=True)
    secrets["expired_token"] = token_for(people.team_admin, expires_in=timedelta(seconds=-1))
    result = World(people=people, secrets=secrets)
    for make in MAKERS:
        result.objects.update(make(result))
    return result


def test_authorization_matrix(world: World) -> None:
    client = APIClient()
    mismatches, tried = [], 0
    for endpoint in ENDPOINTS:
        path = endpoint.path(world)
        data = endpoint.data(world) if endpoint.data else None
        for actor in ACTORS:
            if endpoint.before:
                endpoint.before(world)
            with transaction.atomic():
                response = client.generic(
                    endpoint.method,
                    path,
                    data=None if data is None else json.dumps(data),
                    content_type="application/json",
                    **bearer(world.secrets[actor]),
                    **(endpoint.headers or {}),
                )
                transaction.set_rollback(True)
            tried += 1
            expected = endpoint.expect[actor]
            if response.status_code != expected:
                mismatches.append(
                    f"{endpoint.method} {path} {endpoint.label} as {actor}: got {response.status_code}, expected "
                    f"{expected}: {response.content[:200]!r}"
                )
            elif response.status_code >= 400 and endpoint.operation not in ("docs", "schema"):
                assert response["Content-Type"] == "application/problem+json", (endpoint, actor)
    assert tried == len(ENDPOINTS) * len(ACTORS)
    assert not mismatches, f"{len(mismatches)} of {tried} differ:\n" + "\n".join(mismatches)


def test_every_api_operation_is_in_the_matrix() -> None:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    operations = {op["operationId"] for item in schema["paths"].values() for op in item.values() if "operationId" in op}
    covered = {endpoint.operation for endpoint in ENDPOINTS}
    assert operations - covered == set(), "operations with no row in ENDPOINTS"
    # And the refused side of each: at least one actor gets a 4xx for every operation.
    for operation in operations:
        refusals = [s for e in ENDPOINTS if e.operation == operation for s in e.expect.values() if s >= 400]
        assert refusals, f"{operation}: no refused actor in the matrix"


def test_every_api_url_pattern_is_reachable() -> None:
    # The API's URL names all resolve under /api/v1/ (a renamed route would drop out of the docs).
    for name in (
        "api:schema",
        "api:docs",
        "api:me",
        "api:teams",
        "api:trips",
        "api:tasks",
        "api:bookings",
        "api:desk_bookings",
    ):
        assert re.match(r"^/api/v1/", reverse(name))
