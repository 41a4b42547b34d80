"""Authorization-matrix entries of the tasks app (format: audit/authz.py).

Team "x" is run by staff_x (team admin); staff_y runs team "y"; the site admin is in no
team. Tasks are team content: everybody but staff_x gets 404 for team x's pages and
objects (travellers are in no team; a site admin uses the Django admin), anonymous
visitors are sent to sign in.
"""

from __future__ import annotations

from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile

from audit.authz import Route, World, everyone, statuses


class _Rewinding(SimpleUploadedFile):
    """The matrix posts one data dict for every actor: send the whole file each time."""

    def read(self, *args: Any) -> bytes:
        self.seek(0)
        return super().read(*args)


def _team_x(ok: int, *, anon: int = 302) -> dict[str, int]:
    """Only staff_x (team admin of x) may; everybody else gets 404."""
    return statuses(anon=anon, traveller_a=404, traveller_b=404, staff_x=ok, staff_y=404, admin=404)


def _staff(ok: int, *, anon: int = 302) -> dict[str, int]:
    """Any staff member (their own view); travellers are in no team: 404."""
    return statuses(anon=anon, traveller_a=404, traveller_b=404, staff_x=ok, staff_y=ok, admin=ok)


def make_objects(world: World) -> dict[str, Any]:
    from taskforge.dbcontext import DbContext, db_context
    from tasks import documents, services

    staff_x = world.users["staff_x"]
    team_x = world.teams["x"]
    with db_context(DbContext(user_id=str(staff_x.pk), role="user")):
        field = services.custom_field_save(actor=staff_x, team_id=team_x.id, key="size", label="Size",
                                           field_type="text")  # fmt: skip
        task = services.task_create(actor=staff_x, team_id=team_x.id, title="Matrix task", description="d")
        attachment = services.task_attachment_add(
            actor=staff_x, task_id=task.id, upload=SimpleUploadedFile("matrix.txt", b"matrix\n")
        )
        comment = services.comment_create(actor=staff_x, task_id=task.id, body="matrix comment")
    notification_id = "matrix-notification"
    documents.notifications().insert_one(
        {"_id": notification_id, "user_id": staff_x.pk, "kind": "task_assigned", "state": "unread",
         "task_id": str(task.id), "team_id": team_x.id, "title": "Matrix task", "message": "m"}
    )  # fmt: skip
    return {"task_x": task, "field_x": field, "attachment_x": attachment["id"], "comment_x": comment["_id"],
            "notification_x": notification_id}  # fmt: skip


def _team(w: World) -> dict[str, Any]:
    return {"team_id": w.teams["x"].id}


def _task(w: World) -> dict[str, Any]:
    return {"task_id": w.objects["task_x"].id}


def _comment(w: World) -> dict[str, Any]:
    return {"task_id": w.objects["task_x"].id, "comment_id": w.objects["comment_x"]}


MATRIX: dict[str, Route] = {
    "tasks:index": Route(GET=_staff(200), POST=_staff(405)),
    "tasks:mine": Route(GET=_staff(200)),
    "tasks:search": Route(query=lambda w: {"q": "matrix"}, GET=_staff(200)),
    "tasks:board": Route(kwargs=_team, GET=_team_x(200), POST=_staff(405)),
    "tasks:list": Route(kwargs=_team, GET=_team_x(200)),
    "tasks:new": Route(
        kwargs=_team,
        GET=_team_x(200),
        POST=_team_x(302),
        data=lambda w: {"title": "From the matrix", "status": "todo", "priority": "low"},
    ),
    "tasks:members": Route(kwargs=_team, query=lambda w: {"q": "s"}, GET=_team_x(200)),
    "tasks:custom_fields": Route(
        kwargs=_team,
        GET=_team_x(200),
        POST=_team_x(302),
        data=lambda w: {"key": "colour", "label": "Colour", "field_type": "text"},
    ),
    "tasks:custom_field_edit": Route(
        kwargs=lambda w: {"team_id": w.teams["x"].id, "field_id": w.objects["field_x"].id},
        GET=_team_x(200),
        POST=_team_x(302),
        data=lambda w: {"key": "size", "label": "Size (cm)", "field_type": "number"},
    ),
    "tasks:custom_field_delete": Route(
        kwargs=lambda w: {"team_id": w.teams["x"].id, "field_id": w.objects["field_x"].id},
        GET=_staff(405),
        POST=_team_x(302),
    ),
    "tasks:detail": Route(kwargs=_task, GET=_team_x(200)),
    "tasks:edit": Route(
        kwargs=_task,
        GET=_team_x(200),
        POST=_team_x(302),
        data=lambda w: {"title": "Edited", "status": "todo", "priority": "high", "version": 2},
    ),
    "tasks:delete": Route(kwargs=_task, GET=_team_x(200), POST=_team_x(302)),
    "tasks:move": Route(
        kwargs=_task, GET=_staff(405), POST=_team_x(302), data=lambda w: {"status": "in_progress", "version": 2}
    ),
    "tasks:watch": Route(kwargs=_task, GET=_staff(405), POST=_team_x(302), data=lambda w: {"watch": "1"}),
    "tasks:attachment_upload": Route(
        kwargs=_task,
        GET=_staff(405),
        POST=_team_x(302),
        data=lambda w: {"file": _Rewinding("more.txt", b"more words\n")},
    ),
    "tasks:attachment_download": Route(
        kwargs=lambda w: {"task_id": w.objects["task_x"].id, "attachment_id": w.objects["attachment_x"]},
        GET=_team_x(200),
    ),
    "tasks:comment_create": Route(
        kwargs=_task, GET=_staff(405), POST=_team_x(302), data=lambda w: {"body": "hello from the matrix"}
    ),
    "tasks:comment_edit": Route(
        kwargs=_comment, GET=_team_x(200), POST=_team_x(302), data=lambda w: {"body": "edited by the matrix"}
    ),
    "tasks:comment_delete": Route(kwargs=_comment, GET=_staff(405), POST=_team_x(302)),
    "tasks:notifications": Route(GET=_staff(200)),
    # Polled by the bell: signed-out visitors and travellers get 286 (htmx: stop polling).
    "tasks:notifications_badge": Route(
        GET=statuses(anon=286, traveller_a=286, traveller_b=286, staff_x=200, staff_y=200, admin=200)
    ),  # fmt: skip
    "tasks:notifications_read_all": Route(GET=_staff(405), POST=_staff(302)),
    "tasks:notification_read": Route(
        kwargs=lambda w: {"notification_id": w.objects["notification_x"]},
        GET=_staff(405),
        POST=_team_x(302),  # someone else's notification: 404
    ),
    "tasks:dashboard": Route(GET=_staff(200)),
    "tasks:dashboard_team": Route(kwargs=_team, GET=_team_x(200)),
}

# Not tried: everyone(...) kept for symmetry with the other apps' entries.
_ = everyone
