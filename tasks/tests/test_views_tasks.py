"""Pages and permissions over HTTP: each rule from both sides; outsiders get 404."""

from __future__ import annotations

import pytest
from django.urls import reverse

from taskforge.testing.personas import acting
from tasks.models import Task

pytestmark = pytest.mark.django_db


def _login(client, user):
    client.force_login(user)
    return client


def test_every_page_renders_for_a_member(client, people, make_task) -> None:
    task = make_task(description="Some **bold** text", tags="ops", assignee_id=people.team_member.pk)
    _login(client, people.team_member)
    team = people.x.id
    urls = [
        reverse("tasks:index"),
        reverse("tasks:mine"),
        reverse("tasks:board", args=[team]),
        reverse("tasks:list", args=[team]),
        reverse("tasks:new", args=[team]),
        reverse("tasks:detail", args=[task.id]),
        reverse("tasks:edit", args=[task.id]),
        reverse("tasks:search") + "?q=task",
        reverse("tasks:notifications"),
        reverse("tasks:dashboard"),
        reverse("tasks:dashboard_team", args=[team]),
        reverse("tasks:members", args=[team]) + "?q=ma",
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
    assert b"A task" in client.get(reverse("tasks:board", args=[team])).content


def test_outsiders_get_404_for_everything_of_the_team(client, people, make_task) -> None:
    task = make_task()
    _login(client, people.y_admin)
    team = people.x.id
    gets = [
        reverse("tasks:board", args=[team]),
        reverse("tasks:list", args=[team]),
        reverse("tasks:new", args=[team]),
        reverse("tasks:detail", args=[task.id]),
        reverse("tasks:edit", args=[task.id]),
        reverse("tasks:delete", args=[task.id]),
        reverse("tasks:dashboard_team", args=[team]),
        reverse("tasks:members", args=[team]),
        reverse("tasks:custom_fields", args=[team]),
        reverse("tasks:attachment_download", args=[task.id, "abc"]),
        reverse("tasks:search") + f"?q=task&team={team}",
    ]
    for url in gets:
        assert client.get(url).status_code == 404, url
    posts = [
        reverse("tasks:move", args=[task.id]),
        reverse("tasks:delete", args=[task.id]),
        reverse("tasks:watch", args=[task.id]),
        reverse("tasks:comment_create", args=[task.id]),
        reverse("tasks:attachment_upload", args=[task.id]),
    ]
    for url in posts:
        assert client.post(url, {"status": "in_progress", "version": 1, "body": "hi"}).status_code == 404, url
    with acting(people.team_admin):
        assert Task.objects.get(id=task.id).status == "todo"


def test_unknown_ids_are_404(client, people) -> None:
    _login(client, people.team_admin)
    assert client.get("/tasks/not-a-uuid/").status_code == 404
    assert client.get("/tasks/00000000-0000-0000-0000-000000000000/").status_code == 404
    assert client.get("/tasks/teams/999999/board/").status_code == 404
    assert client.post("/tasks/00000000-0000-0000-0000-000000000000/move/", {"status": "done"}).status_code == 404


def test_anonymous_visitors_are_sent_to_sign_in(client, people) -> None:
    response = client.get(reverse("tasks:board", args=[people.x.id]))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_guests_read_but_cannot_write(client, people, make_task) -> None:
    task = make_task()
    _login(client, people.team_guest)
    assert client.get(reverse("tasks:detail", args=[task.id])).status_code == 200
    assert client.get(reverse("tasks:board", args=[people.x.id])).status_code == 200
    assert client.get(reverse("tasks:new", args=[people.x.id])).status_code == 403
    assert (
        client.post(
            reverse("tasks:new", args=[people.x.id]), {"title": "x", "status": "todo", "priority": "low"}
        ).status_code
        == 403
    )
    assert client.get(reverse("tasks:edit", args=[task.id])).status_code == 403
    assert (
        client.post(reverse("tasks:move", args=[task.id]), {"status": "in_progress", "version": 1}).status_code == 403
    )
    assert client.get(reverse("tasks:delete", args=[task.id])).status_code == 403
    assert client.post(reverse("tasks:comment_create", args=[task.id]), {"body": "hi"}).status_code == 403
    with acting(people.team_admin):
        assert Task.objects.filter(team=people.x).count() == 1
        assert Task.objects.get(id=task.id).status == "todo"


def test_members_create_and_edit_their_own_tasks_only(client, people, make_task) -> None:
    theirs = make_task(actor=people.team_admin, title="admin's")
    _login(client, people.team_member)
    response = client.post(
        reverse("tasks:new", args=[people.x.id]),
        {"title": "Mine", "status": "todo", "priority": "high", "assignee": "", "description": "d", "tags": "x"},
    )
    assert response.status_code == 302
    with acting(people.team_member):
        mine = Task.objects.get(title="Mine")
    assert mine.creator_id == people.team_member.pk
    assert client.get(reverse("tasks:edit", args=[mine.id])).status_code == 200
    assert client.get(reverse("tasks:edit", args=[theirs.id])).status_code == 403
    assert (
        client.post(reverse("tasks:move", args=[theirs.id]), {"status": "in_progress", "version": 1}).status_code == 403
    )
    assert (
        client.post(reverse("tasks:move", args=[mine.id]), {"status": "in_progress", "version": 1}).status_code == 302
    )
    # members may not delete (task.delete is for team admins)
    assert client.post(reverse("tasks:delete", args=[mine.id])).status_code == 403
    with acting(people.team_member):
        assert Task.objects.get(id=theirs.id).status == "todo"
        assert Task.objects.get(id=mine.id).status == "in_progress"


def test_team_admins_edit_and_delete_anything_after_confirmation(client, people, member2, make_task) -> None:
    task = make_task(actor=people.team_member, title="member's")
    _login(client, people.team_admin)
    confirm = client.get(reverse("tasks:delete", args=[task.id]))
    assert confirm.status_code == 200 and b"Yes, delete it" in confirm.content
    with acting(people.team_admin):
        assert Task.objects.filter(id=task.id).exists()  # asking did not delete
    edit = client.post(
        reverse("tasks:edit", args=[task.id]),
        {"title": "renamed", "status": "todo", "priority": "low", "assignee": str(member2.pk), "version": 1},
    )
    assert edit.status_code == 302
    assert client.post(reverse("tasks:delete", args=[task.id])).status_code == 302
    with acting(people.team_admin):
        assert not Task.objects.filter(id=task.id).exists()


def test_custom_fields_are_managed_by_team_admins(client, people) -> None:
    from tasks.models import TeamCustomField

    url = reverse("tasks:custom_fields", args=[people.x.id])
    client.force_login(people.team_member)
    assert client.get(url).status_code == 403
    assert client.post(url, {"key": "k", "label": "K", "field_type": "text"}).status_code == 403
    client.force_login(people.y_admin)
    assert client.get(url).status_code == 404
    client.force_login(people.team_admin)
    assert (
        client.post(url, {"key": "size", "label": "Size", "field_type": "choice", "choices": "S, M, L"}).status_code
        == 302
    )
    bad = client.post(url, {"key": "Bad Key!", "label": "", "field_type": "colour"})
    assert bad.status_code == 400 and b"Select a valid choice" in bad.content
    dup = client.post(url, {"key": "size", "label": "Again", "field_type": "text"})
    assert dup.status_code == 400 and b"Another field of this team uses that key" in dup.content
    field = TeamCustomField.objects.get(team=people.x, key="size")
    assert field.choices == ["S", "M", "L"]
    edit = reverse("tasks:custom_field_edit", args=[people.x.id, field.id])
    assert client.get(edit).status_code == 200
    assert (
        client.post(
            edit,
            {
                "key": "size",
                "label": "T-shirt size",
                "field_type": "choice",
                "choices": "S\nM\nL\nXL",
                "required": "on",
            },
        ).status_code
        == 302
    )
    field.refresh_from_db()
    assert (field.label, field.choices, field.required) == ("T-shirt size", ["S", "M", "L", "XL"], True)
    form = client.get(reverse("tasks:new", args=[people.x.id])).content.decode()
    assert 'name="cf_size"' in form and "T-shirt size *" in form
    wrong = client.post(
        reverse("tasks:new", args=[people.x.id]), {"title": "x", "status": "todo", "priority": "low", "cf_size": "XXL"}
    )
    assert wrong.status_code == 400 and b"must be one of: S, M, L, XL" in wrong.content
    with acting(people.team_admin):
        assert not Task.objects.filter(title="x").exists()
    assert client.post(reverse("tasks:custom_field_delete", args=[people.x.id, field.id])).status_code == 302
    assert not TeamCustomField.objects.filter(id=field.id).exists()


def test_create_form_reports_bad_input_with_400(client, people) -> None:
    client.force_login(people.team_admin)
    url = reverse("tasks:new", args=[people.x.id])
    response = client.post(url, {"title": "t", "status": "todo", "priority": "low", "assignee": str(people.y_admin.pk)})
    assert response.status_code == 400 and b"That person is not in this team" in response.content
    response = client.post(url, {"title": "t", "status": "todo", "priority": "low", "due_at": "next tuesday"})
    assert response.status_code == 400 and b"Enter a valid date/time" in response.content
    with acting(people.team_admin):
        assert Task.objects.count() == 0


def test_stale_edit_form_is_refused_with_409(client, people, make_task) -> None:
    task = make_task(title="v1")
    client.force_login(people.team_admin)
    form = {"title": "mine", "status": "todo", "priority": "low", "version": 1}
    assert client.post(reverse("tasks:edit", args=[task.id]), form).status_code == 302
    stale = client.post(reverse("tasks:edit", args=[task.id]), {**form, "title": "theirs"})
    assert stale.status_code == 409 and b"changed by someone else" in stale.content
    with acting(people.team_admin):
        assert Task.objects.get(id=task.id).title == "mine"
