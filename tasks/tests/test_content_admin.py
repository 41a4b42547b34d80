"""The tasks app's content in the Django admin: site admins list, search, view and moderate
comments (hide, edit the text; audited; the task page says "hidden by a moderator"), mark
notifications read or unread, and view task details (edited on the task page, linked).
Everyone else is refused."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test import Client
from django.urls import reverse

from taskforge.dbcontext import context_for_system, db_context
from taskforge.testing.personas import acting
from tasks import services
from tasks.caching import unread_cached, unread_set
from tasks.models import Notification, TaskComment, TaskDetail
from tasks.services.comments import comment_moderate
from tasks.services.notifications import notification_admin_update

pytestmark = pytest.mark.django_db

COMMENTS = "/admin/tasks/taskcomment/"
NOTIFICATIONS = "/admin/tasks/notification/"
DETAILS = "/admin/tasks/taskdetail/"
T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)


def _audit(table: str, record_id: str) -> list[tuple]:
    with db_context(context_for_system("pytest")), connection.cursor() as cursor:
        cursor.execute(
            "SELECT operation, old_values, new_values, user_id FROM audit_log WHERE table_name = %s "
            "AND record_id = %s ORDER BY id",
            [table, record_id],
        )
        rows = cursor.fetchall()
    return [(op, *(json.loads(v) if isinstance(v, str) else v for v in (old, new)), uid) for op, old, new, uid in rows]


@pytest.fixture
def commented(people, make_task, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):  # the detail document, by the fast path
        task = make_task(actor=people.team_admin, title="Moderated task", description="the description")
    with acting(people.team_member), django_capture_on_commit_callbacks(execute=True):
        doc = services.comment_create(actor=people.team_member, task_id=task.id, body="rude words here")
    return task, TaskComment.objects.get(pk=doc["_id"])


@pytest.fixture
def admin_client(make_user) -> Client:
    client = Client()
    client.force_login(make_user("admin"))
    return client


def test_site_admins_list_search_and_view_comments(admin_client, commented) -> None:
    task, comment = commented
    page = admin_client.get(COMMENTS)
    assert page.status_code == 200 and str(comment.pk).encode() in page.content
    assert str(comment.pk).encode() in admin_client.get(COMMENTS, {"q": "rude"}).content
    assert str(comment.pk).encode() not in admin_client.get(COMMENTS, {"q": "polite"}).content
    form = admin_client.get(f"{COMMENTS}{comment.pk}/change/")
    assert form.status_code == 200
    assert b"rude words here" in form.content and reverse("tasks:detail", args=[task.id]).encode() in form.content
    assert admin_client.get(f"{COMMENTS}add/").status_code == 403  # content is never added here


def test_hiding_a_comment_is_audited_and_the_task_page_says_so(
    admin_client, client, people, commented, django_capture_on_commit_callbacks
) -> None:
    task, comment = commented
    client.force_login(people.team_member)
    assert b"rude words here" in client.get(reverse("tasks:detail", args=[task.id])).content  # cached now
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            f"{COMMENTS}{comment.pk}/change/", {"body": "rude words here", "hidden": "on", "_save": "Save"}
        )
    assert response.status_code == 302
    comment.refresh_from_db()
    assert comment.hidden is True and comment.moderated_by is not None and comment.moderated_at is not None
    page = client.get(reverse("tasks:detail", args=[task.id])).content.decode()
    assert "hidden by a moderator" in page and "rude words here" not in page
    op, old, new, _ = _audit("task_comment", str(task.id))[-1]
    assert op == "UPDATE" and old["hidden"] is False and new["hidden"] is True
    assert new["moderated_by"] == comment.moderated_by


def test_editing_a_comments_text_is_audited(admin_client, commented, django_capture_on_commit_callbacks) -> None:
    task, comment = commented
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"{COMMENTS}{comment.pk}/change/", {"body": "[removed by a moderator]"})
    assert response.status_code == 302
    comment.refresh_from_db()
    assert comment.body == "[removed by a moderator]" and comment.hidden is False and comment.edited_at
    op, old, new, _ = _audit("task_comment", str(task.id))[-1]
    assert (op, old["body"], new["body"]) == ("UPDATE", "rude words here", "[removed by a moderator]")


def test_an_empty_moderated_text_is_refused_with_a_message(admin_client, commented) -> None:
    _, comment = commented
    response = admin_client.post(f"{COMMENTS}{comment.pk}/change/", {"body": "   "})
    assert response.status_code == 200 and b"errorlist" in response.content
    comment.refresh_from_db()
    assert comment.body == "rude words here"


def test_non_admins_cannot_moderate(client, people, commented) -> None:
    task, comment = commented
    client.force_login(people.team_admin)  # a team admin moderates in the team, not in the site admin
    assert client.get(COMMENTS).status_code == 403
    assert client.get(f"{COMMENTS}{comment.pk}/change/").status_code == 403
    assert client.post(f"{COMMENTS}{comment.pk}/change/", {"body": "x", "hidden": "on"}).status_code == 403
    comment.refresh_from_db()
    assert (comment.body, comment.hidden) == ("rude words here", False)
    with acting(people.team_admin), pytest.raises(PermissionDenied):
        comment_moderate(actor=people.team_admin, comment_id=comment.pk, body="x", hidden=True)


def test_site_admins_mark_a_notification_unread_audited(
    admin_client, people, django_capture_on_commit_callbacks
) -> None:
    user = people.team_member
    Notification.objects.create(id="adm-n1", user_id=user.pk, kind="task_comment", title="T", created_at=T0)
    unread_set(user.pk, 1)
    assert b"adm-n1" in admin_client.get(NOTIFICATIONS).content
    assert b"adm-n1" in admin_client.get(NOTIFICATIONS, {"q": "T"}).content
    assert admin_client.get(f"{NOTIFICATIONS}adm-n1/change/").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        assert admin_client.post(f"{NOTIFICATIONS}adm-n1/change/", {"read": "on"}).status_code == 302
    note = Notification.objects.get(pk="adm-n1")
    assert note.read is True and note.read_at is not None
    assert unread_cached(user.pk) is None  # recomputed on the next read
    op, old, new, _ = _audit("notification", "adm-n1")[-1]
    assert (op, old["read"], new["read"]) == ("UPDATE", False, True)


def test_non_admins_cannot_change_notifications(client, people) -> None:
    user = people.team_member
    Notification.objects.create(id="adm-n2", user_id=user.pk, kind="task_comment", created_at=T0)
    client.force_login(user)
    assert client.get(NOTIFICATIONS).status_code == 403
    assert client.post(f"{NOTIFICATIONS}adm-n2/change/", {"read": "on"}).status_code == 403
    assert Notification.objects.get(pk="adm-n2").read is False
    with acting(user), pytest.raises(PermissionDenied):
        notification_admin_update(actor=user, notification_id="adm-n2", read=True)


def test_task_details_are_viewed_here_and_edited_on_the_task_page(admin_client, client, people, commented) -> None:
    task, _ = commented
    assert TaskDetail.objects.filter(pk=str(task.id)).exists()
    assert str(task.id).encode() in admin_client.get(DETAILS).content
    assert str(task.id).encode() in admin_client.get(DETAILS, {"q": "Moderated"}).content
    view = admin_client.get(f"{DETAILS}{task.id}/change/")
    assert view.status_code == 200
    assert (
        reverse("tasks:detail", args=[task.id]).encode() in view.content
        and b"change it on the task page" in view.content
    )
    # Written only by the outbox from the task row: a POST here is refused and changes nothing.
    assert admin_client.post(f"{DETAILS}{task.id}/change/", {"description": "drift"}).status_code == 403
    assert TaskDetail.objects.get(pk=str(task.id)).description == "the description"
    client.force_login(people.team_admin)
    assert client.get(DETAILS).status_code == 403
    assert client.get(f"{DETAILS}{task.id}/change/").status_code == 403
