"""Authorization-matrix entries of the tasks app (format: taskforge/testing/authz.py).

Tasks are team work. In team "x" the guest reads (board, list, tasks, comments), the member
also creates tasks, edits their own and comments, the admin does everything; an action a
person's role does not allow on a task they can see is refused with 403. Everyone outside
x gets 404 for its pages and objects, and the people of x get 404 for team y's. Travellers
and capability holders are in no team: the task pages do not exist for them (404). The
site admin passes the door of the task pages (their own, empty, views) but is in no team:
a team's tasks are 404 to them too (a site admin uses the Django admin). Anonymous
visitors are sent to sign in.
"""

from __future__ import annotations

from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from taskforge.testing.authz import Route, World, only, signed_in, team_x

IN_X = ("team_guest", "team_member", "team_admin")


class _Rewinding(SimpleUploadedFile):
    """The matrix posts one data dict for every actor: send the whole file each time."""

    def read(self, *args: Any) -> bytes:
        self.seek(0)
        return super().read(*args)


def _door(ok: int) -> dict[str, Any]:
    """The task pages' door: people in a team, and site admins; everyone else 404."""
    return only(ok, *IN_X, "site_admin")


def _read(ok: int = 200) -> dict[str, Any]:
    """Team x's work to read: guest, member and admin."""
    return team_x(guest=ok, member=ok, admin=ok)


def _admin(ok: int = 302) -> dict[str, Any]:
    """Team x's management (team.manage, task.delete, others' work): its admin; the guest and
    member see the team: 403."""
    return team_x(guest=403, member=403, admin=ok)


def _contributor(ok: int = 302) -> dict[str, Any]:
    """Creating and commenting (task.create, comment.create): member and admin; guest 403."""
    return team_x(guest=403, member=ok, admin=ok)


def _other_team() -> dict[str, Any]:
    """Team y's objects: nobody among the actors may know they exist."""
    return signed_in(404)


def make_objects(world: World) -> dict[str, Any]:
    from taskforge.dbcontext import context_for_user, db_context
    from tasks import services
    from tasks.models import Notification, TaskComment

    admin, member, y_admin = world.users["team_admin"], world.users["team_member"], world.users["team_y_admin"]
    team, team_y = world.teams["x"], world.teams["y"]
    with db_context(context_for_user(admin)):
        field = services.custom_field_save(actor=admin, team_id=team.id, key="size", label="Size", field_type="text")
        task = services.task_create(actor=admin, team_id=team.id, title="Matrix task", description="d")
        attachment = services.task_attachment_add(
            actor=admin, task_id=task.id, upload=SimpleUploadedFile("matrix.txt", b"matrix\n")
        )
        comment = services.comment_create(actor=admin, task_id=task.id, body="matrix comment")
    with db_context(context_for_user(member)):
        own_task = services.task_create(actor=member, team_id=team.id, title="Member's task", description="m")
        own_comment = services.comment_create(actor=member, task_id=task.id, body="member's comment")
    with db_context(context_for_user(y_admin)):
        field_y = services.custom_field_save(
            actor=y_admin, team_id=team_y.id, key="size", label="Size", field_type="text"
        )
        task_y = services.task_create(actor=y_admin, team_id=team_y.id, title="Team y task", description="y")
        attachment_y = services.task_attachment_add(
            actor=y_admin, task_id=task_y.id, upload=SimpleUploadedFile("y.txt", b"team y\n")
        )
        comment_y = services.comment_create(actor=y_admin, task_id=task_y.id, body="team y comment")
    notification_id = "matrix-notification"
    Notification.objects.create(
        id=notification_id,
        user_id=admin.pk,
        kind="task_assigned",
        read=False,
        task_id=str(task.id),
        team_id=team.id,
        title="Matrix task",
        message="m",
        created_at=timezone.now(),
    )
    return {
        "task_x": task,
        "field_x": field,
        "attachment_x": attachment["id"],
        "comment_x": comment["_id"],
        "task_x_member": own_task,
        "comment_x_member": own_comment["_id"],
        "comment_x_member_doc": TaskComment.objects.get(pk=own_comment["_id"]),
        "task_y": task_y,
        "field_y": field_y,
        "attachment_y": attachment_y["id"],
        "comment_y": comment_y["_id"],
        "notification_x": notification_id,
    }


def _team(w: World) -> dict[str, Any]:
    return {"team_id": w.teams["x"].id}


def _team_y(w: World) -> dict[str, Any]:
    return {"team_id": w.teams["y"].id}


def _task(w: World) -> dict[str, Any]:
    return {"task_id": w.objects["task_x"].id}


def _member_task(w: World) -> dict[str, Any]:
    return {"task_id": w.objects["task_x_member"].id}


def _task_y(w: World) -> dict[str, Any]:
    return {"task_id": w.objects["task_y"].id}


def _comment(w: World) -> dict[str, Any]:
    return {"task_id": w.objects["task_x"].id, "comment_id": w.objects["comment_x"]}


def _member_comment(w: World) -> dict[str, Any]:
    return {"task_id": w.objects["task_x"].id, "comment_id": w.objects["comment_x_member"]}


def _member_comment_back(w: World) -> None:
    """Deleting a comment removes its document, which the per-request rollback does not bring
    back: put it back before each request (the member deletes it first, then the admin)."""
    from tasks.models import TaskComment

    doc = w.objects["comment_x_member_doc"]
    if not TaskComment.objects.filter(pk=doc.pk).exists():
        doc.save(force_insert=True)


def _comment_y(w: World) -> dict[str, Any]:
    return {"task_id": w.objects["task_y"].id, "comment_id": w.objects["comment_y"]}


# The versions the tasks have after make_objects (the attachment made task_x's second).
VERSION_X, VERSION_OWN, VERSION_Y = 2, 1, 2


def _edit(version: int) -> Any:
    return lambda w: {"title": "Edited", "status": "todo", "priority": "high", "version": version}


def _move(version: int) -> Any:
    return lambda w: {"status": "in_progress", "version": version}


TEAM_Y = "team y"
OWN = "the member's own"

MATRIX: dict[str, Route | list[Route]] = {
    "tasks:index": Route(GET=_door(200), POST=_door(405)),
    "tasks:mine": Route(GET=_door(200)),
    "tasks:search": [
        Route(query=lambda w: {"q": "matrix"}, GET=_door(200)),
        # Filtering on a team one is not in: 404 (the site admin, in no team, too).
        Route(label=TEAM_Y, query=lambda w: {"q": "matrix", "team": w.teams["y"].id}, GET=signed_in(404)),
    ],
    "tasks:board": [
        Route(kwargs=_team, GET=_read(200), POST=_door(405)),
        Route(label=TEAM_Y, kwargs=_team_y, GET=_other_team()),
    ],
    "tasks:list": [
        Route(kwargs=_team, GET=_read(200)),
        Route(label=TEAM_Y, kwargs=_team_y, GET=_other_team()),
    ],
    "tasks:new": [
        Route(
            kwargs=_team,
            GET=_contributor(200),
            POST=_contributor(302),
            data=lambda w: {"title": "From the matrix", "status": "todo", "priority": "low"},
            allow_403=True,
        ),
        Route(
            label=TEAM_Y,
            kwargs=_team_y,
            GET=_other_team(),
            POST=_other_team(),
            data=lambda w: {"title": "From the matrix", "status": "todo", "priority": "low"},
        ),
    ],
    # Quick add on the board (issue 19): like "new task"; a guest gets the form back with 403.
    "tasks:quick_add": [
        Route(
            kwargs=_team,
            GET=_door(405),
            POST=_contributor(302),
            data=lambda w: {"title": "Quick from the matrix", "status": "backlog"},
            allow_403=True,
        ),
        Route(
            label=TEAM_Y,
            kwargs=_team_y,
            POST=_other_team(),
            data=lambda w: {"title": "Quick from the matrix", "status": "backlog"},
        ),
    ],
    "tasks:members": [
        Route(kwargs=_team, query=lambda w: {"q": "t"}, GET=_read(200)),
        Route(label=TEAM_Y, kwargs=_team_y, query=lambda w: {"q": "t"}, GET=_other_team()),
    ],
    "tasks:custom_fields": [
        Route(
            kwargs=_team,
            GET=_admin(200),
            POST=_admin(302),
            data=lambda w: {"key": "colour", "label": "Colour", "field_type": "text"},
            allow_403=True,
        ),
        Route(label=TEAM_Y, kwargs=_team_y, GET=_other_team()),
    ],
    "tasks:custom_field_edit": [
        Route(
            kwargs=lambda w: {"team_id": w.teams["x"].id, "field_id": w.objects["field_x"].id},
            GET=_admin(200),
            POST=_admin(302),
            data=lambda w: {"key": "size", "label": "Size (cm)", "field_type": "number"},
            allow_403=True,
        ),
        Route(
            label=TEAM_Y,
            kwargs=lambda w: {"team_id": w.teams["y"].id, "field_id": w.objects["field_y"].id},
            GET=_other_team(),
        ),
    ],
    "tasks:custom_field_delete": [
        Route(
            kwargs=lambda w: {"team_id": w.teams["x"].id, "field_id": w.objects["field_x"].id},
            GET=_door(405),
            POST=_admin(302),
            allow_403=True,
        ),
        Route(
            label=TEAM_Y,
            kwargs=lambda w: {"team_id": w.teams["y"].id, "field_id": w.objects["field_y"].id},
            POST=_other_team(),
        ),
    ],
    "tasks:detail": [
        Route(kwargs=_task, GET=_read(200)),
        Route(label=TEAM_Y, kwargs=_task_y, GET=_other_team()),
    ],
    # Editing: one's own task (task.edit_own: member) or any (task.edit_any: admin).
    "tasks:edit": [
        Route(kwargs=_task, GET=_admin(200), POST=_admin(302), data=_edit(VERSION_X), allow_403=True),
        Route(
            label=OWN,
            kwargs=_member_task,
            GET=_contributor(200),
            POST=_contributor(302),
            data=_edit(VERSION_OWN),
            allow_403=True,
        ),
        Route(label=TEAM_Y, kwargs=_task_y, GET=_other_team(), POST=_other_team(), data=_edit(VERSION_Y)),
    ],
    "tasks:delete": [
        Route(kwargs=_task, GET=_admin(200), POST=_admin(302), allow_403=True),
        Route(label=TEAM_Y, kwargs=_task_y, GET=_other_team(), POST=_other_team()),
    ],
    "tasks:move": [
        Route(kwargs=_task, GET=_door(405), POST=_admin(302), data=_move(VERSION_X), allow_403=True),
        Route(label=OWN, kwargs=_member_task, POST=_contributor(302), data=_move(VERSION_OWN), allow_403=True),
        Route(label=TEAM_Y, kwargs=_task_y, POST=_other_team(), data=_move(VERSION_Y)),
    ],
    # Anyone who sees a task may follow it.
    "tasks:watch": [
        Route(kwargs=_task, GET=_door(405), POST=_read(302), data=lambda w: {"watch": "1"}),
        Route(label=TEAM_Y, kwargs=_task_y, POST=_other_team(), data=lambda w: {"watch": "1"}),
    ],
    "tasks:attachment_upload": [
        Route(
            kwargs=_task,
            GET=_door(405),
            POST=_admin(302),
            data=lambda w: {"file": _Rewinding("more.txt", b"more words\n")},
            allow_403=True,
        ),
        Route(
            label=OWN,
            kwargs=_member_task,
            POST=_contributor(302),
            data=lambda w: {"file": _Rewinding("more.txt", b"more words\n")},
            allow_403=True,
        ),
        Route(
            label=TEAM_Y,
            kwargs=_task_y,
            POST=_other_team(),
            data=lambda w: {"file": _Rewinding("more.txt", b"more words\n")},
        ),
    ],
    "tasks:attachment_download": [
        Route(
            kwargs=lambda w: {"task_id": w.objects["task_x"].id, "attachment_id": w.objects["attachment_x"]},
            GET=_read(200),
        ),
        Route(
            label=TEAM_Y,
            kwargs=lambda w: {"task_id": w.objects["task_y"].id, "attachment_id": w.objects["attachment_y"]},
            GET=_other_team(),
        ),
    ],
    "tasks:comment_create": [
        Route(
            kwargs=_task,
            GET=_door(405),
            POST=_contributor(302),
            data=lambda w: {"body": "hello from the matrix"},
            allow_403=True,
        ),
        Route(label=TEAM_Y, kwargs=_task_y, POST=_other_team(), data=lambda w: {"body": "hello from the matrix"}),
    ],
    # One's own comment (member), or anyone's (comment.moderate: admin).
    "tasks:comment_edit": [
        Route(
            kwargs=_comment,
            GET=_admin(200),
            POST=_admin(302),
            data=lambda w: {"body": "edited by the matrix"},
            allow_403=True,
        ),
        Route(
            label=OWN,
            kwargs=_member_comment,
            GET=_contributor(200),
            POST=_contributor(302),
            data=lambda w: {"body": "edited by the matrix"},
            allow_403=True,
        ),
        Route(
            label=TEAM_Y,
            kwargs=_comment_y,
            GET=_other_team(),
            POST=_other_team(),
            data=lambda w: {"body": "edited by the matrix"},
        ),
    ],
    "tasks:comment_delete": [
        Route(kwargs=_comment, GET=_door(405), POST=_admin(302), allow_403=True),
        Route(label=OWN, kwargs=_member_comment, POST=_contributor(302), allow_403=True, before=_member_comment_back),
        Route(label=TEAM_Y, kwargs=_comment_y, POST=_other_team()),
    ],
    "tasks:notifications": Route(GET=_door(200)),
    # Polled by the bell: anyone not in a team (signed out, travellers, capability holders,
    # the site admin) gets 286 (htmx: stop polling).
    "tasks:notifications_badge": Route(GET=only(200, *IN_X, others=286, anon=286)),
    "tasks:notifications_read_all": Route(GET=_door(405), POST=_door(302)),
    # The team admin's notification; anyone else's notification does not exist for them.
    "tasks:notification_read": Route(
        kwargs=lambda w: {"notification_id": w.objects["notification_x"]},
        GET=_door(405),
        POST=only(302, "team_admin"),
    ),
    "tasks:dashboard": Route(GET=_door(200)),
    "tasks:dashboard_team": [
        Route(kwargs=_team, GET=_read(200)),
        Route(label=TEAM_Y, kwargs=_team_y, GET=_other_team()),
    ],
}
