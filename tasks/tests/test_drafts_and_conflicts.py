"""Refused writes never lose what the person typed, and a stale edit can be recovered.

* comment and upload errors come back as the form (htmx: the form alone) with field
  errors and a 4xx, never a separate error page;
* a 403 after a permission change keeps the draft in the form;
* a stale task edit (409) shows the saved value next to the person's, field by field, with
  the form on the latest version, so "Save my changes over theirs" works in one click.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.models import Membership
from accounts.permissions import permissions_invalidate
from taskforge.testing.personas import acting
from tasks import services
from tasks.conflicts import FieldConflict, task_edit_conflicts
from tasks.models import CustomFieldType, Task, TeamCustomField
from tasks.selectors.tasks import task_detail_current
from tasks.selectors.teams import team_members

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}
DRAFT = "A long comment\r\nwith two lines & <b>markup</b>"


def _textarea(html: str, name: str) -> str:
    match = re.search(rf'<textarea name="{name}"[^>]*>\n?(.*?)</textarea>', html, re.S)
    assert match, f"no textarea {name}"
    return match.group(1)


def _demote(people, user, role: str = "guest") -> None:
    Membership.objects.filter(team=people.x, user=user).update(role=role)
    permissions_invalidate(people.x.id)


# --- comments and uploads ------------------------------------------------------------------------


def test_an_invalid_comment_comes_back_as_the_form_with_field_errors(client, people, make_task) -> None:
    task = make_task()
    client.force_login(people.team_member)
    url = reverse("tasks:comment_create", args=[task.id])
    response = client.post(url, {"body": "x" * 10_001}, **HTMX)
    html = response.content.decode()
    assert response.status_code == 400
    assert html.lstrip().startswith("<form") and 'class="card comment-form"' in html  # the form, not a page
    assert 'aria-invalid="true"' in html and "at most 10000 characters" in html
    assert _textarea(html, "body") == "x" * 10_001


def test_a_rejected_comment_attachment_keeps_the_text(client, people, make_task) -> None:
    task = make_task()
    client.force_login(people.team_member)
    upload = SimpleUploadedFile("tool.exe", b"MZ\x90\x00binary", content_type="application/octet-stream")
    response = client.post(reverse("tasks:comment_create", args=[task.id]), {"body": DRAFT, "file": upload}, **HTMX)
    html = response.content.decode()
    assert response.status_code == 400 and 'id="comment-file-errors"' in html and "not accepted" in html
    assert _textarea(html, "body") == "A long comment\r\nwith two lines &amp; &lt;b&gt;markup&lt;/b&gt;"


def test_a_comment_refused_after_a_permission_change_keeps_the_draft(client, people, make_task) -> None:
    task = make_task()
    client.force_login(people.team_member)
    url = reverse("tasks:comment_create", args=[task.id])
    _demote(people, people.team_member)  # while the member was typing
    response = client.post(url, {"body": DRAFT}, **HTMX)
    html = response.content.decode()
    assert response.status_code == 403
    assert "You may no longer do this in this team" in html and "A long comment" in _textarea(html, "body")
    # Without htmx: the whole task page, with the form and the draft.
    page = client.post(url, {"body": DRAFT})
    assert page.status_code == 403 and "<h1>" in page.content.decode()
    assert "A long comment" in _textarea(page.content.decode(), "body")
    # The allowed side: a member comments.
    _demote(people, people.team_member, "member")
    ok = client.post(url, {"body": "fine now"}, **HTMX)
    assert ok.status_code == 200 and ok["HX-Refresh"] == "true"


def test_a_refused_upload_comes_back_as_its_form(client, people, member2, make_task) -> None:
    task = make_task(actor=people.team_admin)
    client.force_login(people.team_admin)
    url = reverse("tasks:attachment_upload", args=[task.id])
    bad = client.post(url, {"file": SimpleUploadedFile("page.html", b"just text", content_type="image/png")}, **HTMX)
    assert bad.status_code == 400 and bad.content.decode().lstrip().startswith("<form")
    assert 'id="task-file-errors"' in bad.content.decode()
    client.force_login(member2)  # not the creator nor the assignee: may not edit
    refused = client.post(url, {"file": SimpleUploadedFile("a.txt", b"hi")}, **HTMX)
    assert refused.status_code == 403 and "You may no longer do this" in refused.content.decode()
    client.force_login(people.team_admin)
    ok = client.post(url, {"file": SimpleUploadedFile("a.txt", b"hi")}, **HTMX)
    assert ok.status_code == 200 and ok["HX-Refresh"] == "true"


def test_an_htmx_404_is_a_message_not_a_page(client, people, make_task) -> None:
    task = make_task()
    client.force_login(people.y_admin)
    response = client.post(reverse("tasks:comment_create", args=[task.id]), {"body": DRAFT}, **HTMX)
    html = response.content.decode()
    assert response.status_code == 404 and "<html" not in html and 'role="alert"' in html


# --- task forms: 403 keeps the draft --------------------------------------------------------------


def test_task_forms_refused_after_a_permission_change_keep_the_draft(client, people, make_task) -> None:
    task = make_task(actor=people.team_member)
    client.force_login(people.team_member)
    form = {"title": "New title", "description": DRAFT, "status": "todo", "priority": "high", "version": 1}
    _demote(people, people.team_member)
    for url in (reverse("tasks:edit", args=[task.id]), reverse("tasks:new", args=[people.x.id])):
        response = client.post(url, form)
        html = response.content.decode()
        assert response.status_code == 403, url
        assert "You may no longer do this" in html and 'value="New title"' in html, url
        assert _textarea(html, "description").startswith("A long comment"), url
    with acting(people.team_admin):
        assert Task.objects.get(id=task.id).title == "A task" and Task.objects.count() == 1


# --- stale edits ------------------------------------------------------------------------------------


def test_conflicts_compare_the_saved_task_with_the_persons_values(people, make_task) -> None:
    size = TeamCustomField.objects.create(team=people.x, key="size", label="Size", field_type=CustomFieldType.NUMBER)
    task = make_task(
        title="Rotate keys", description="Line one\nLine two", tags="ops, security", custom_fields={"size": 3}
    )
    with acting(people.team_admin):
        detail = task_detail_current(task)
    mine = {
        "title": " Rotate keys ",  # the same once trimmed
        "description": "Line one\r\nLine two",  # the same: the browser's line breaks
        "status": "in_progress",
        "priority": task.priority,
        "assignee_id": str(people.team_member.pk),
        "due_at": dt.datetime(2027, 6, 10, 14, 30, tzinfo=dt.UTC),
        "tags": "Security, ops",  # the same set, in another order and case
        "custom_fields": {"size": "3.5"},
    }
    conflicts = task_edit_conflicts(
        current=task,
        current_detail=detail,
        mine=mine,
        members=team_members(people.x.id),
        custom_fields=[size],
    )
    assert conflicts == [
        FieldConflict("status", "Status", "To do", "In progress"),
        FieldConflict("assignee", "Assignee", "Unassigned", str(people.team_member)),
        FieldConflict("due_at", "Due", "—", "2027-06-10 14:30 UTC"),
        FieldConflict("tags", "Tags", "ops, security", "security, ops"),
        FieldConflict("cf_size", "Size", "3", "3.5"),
    ]
    # Without the detail (document server down, no event): the row's fields only.
    rows = task_edit_conflicts(current=task, current_detail=None, mine=mine, members=[], custom_fields=[size])
    assert [c.name for c in rows] == ["status", "assignee", "due_at"]


def test_a_stale_edit_shows_both_versions_and_saves_over_theirs_in_one_post(client, people, member2, make_task) -> None:
    task = make_task(actor=people.team_admin, title="Renew certificate", description="Old notes")
    client.force_login(member2)
    with acting(people.team_admin):  # someone else saves while member2 edits version 1
        services.task_update(
            actor=people.team_admin, task_id=task.id, expected_version=1, title="Renew TLS certificate",
            description="Their notes", status="todo", priority="urgent", assignee_id=None, due_at=None,
            tags="", custom_fields={},
        )  # fmt: skip
    _demote(people, member2, "admin")  # member2 may edit any task
    mine = {"title": "Renew the certificate", "description": "My notes", "status": "todo", "priority": "low",
            "version": 1}  # fmt: skip
    url = reverse("tasks:edit", args=[task.id])
    stale = client.post(url, mine)
    html = stale.content.decode()
    assert stale.status_code == 409
    rows = dict(
        re.findall(r'<tr data-conflict="(\w+)"><th scope="row">[^<]*</th><td class="theirs">([^<]*)</td>', html)
    )
    assert rows == {"title": "Renew TLS certificate", "priority": "Urgent", "description": "Their notes"}
    assert re.search(r'<tr data-conflict="title">.*?<td class="yours">Renew the certificate</td>', html)
    assert 'name="version" value="2"' in html  # the latest version ...
    assert 'value="Renew the certificate"' in html and _textarea(html, "description") == "My notes"  # ... my values
    assert "Save my changes over theirs" in html
    with acting(people.team_admin):
        assert Task.objects.get(id=task.id).title == "Renew TLS certificate"  # nothing saved yet

    # The one click: the form as it came back.
    again = client.post(url, {**mine, "version": 2})
    assert again.status_code == 302
    with acting(people.team_admin):
        saved = Task.objects.get(id=task.id)
        assert (saved.title, saved.priority, saved.version) == ("Renew the certificate", "low", 3)
        assert task_detail_current(saved)["description"] == "My notes"
