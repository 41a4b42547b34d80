"""The comments and attachments of a task through the API: the same services and checks as
the task page, each rule from both sides (author vs. others, moderators, other teams)."""

from __future__ import annotations

from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from api.tests.conftest import bearer
from taskforge.testing.personas import acting
from tasks import services
from tasks.models import Task, TaskComment
from tasks.services.comments import comment_moderate


def _task(actor: Any, team: Any, title: str = "Book the coaches") -> Task:
    with acting(actor):
        return services.task_create(actor=actor, team_id=team.pk, title=title)


def _client(token_for: Any, user: Any, scope: str = "read_write") -> APIClient:
    client = APIClient()
    client.credentials(**bearer(token_for(user, scope=scope)))
    return client


def _url(task: Task, comment_id: str = "") -> str:
    return f"/api/v1/tasks/{task.id}/comments/" + (f"{comment_id}/" if comment_id else "")


def test_comment_list_create_edit_delete_as_the_author(people, token_for) -> None:
    task = _task(people.team_admin, people.x)
    member = _client(token_for, people.team_member)
    created = member.post(_url(task), {"body": f"Booked; @{people.team_admin.email} check"}, format="json")
    assert created.status_code == 201, created.content
    comment = created.json()
    assert comment["author_id"] == people.team_member.pk and comment["can_change"] is True
    assert comment["mentions"] == [people.team_admin.pk] and comment["hidden"] is False
    assert created["Location"] == _url(task, comment["id"])
    listed = member.get(_url(task)).json()
    assert [c["body"] for c in listed["results"]] == [comment["body"]] and listed["next"] is None
    edited = member.patch(created["Location"], {"body": "Booked, both coaches"}, format="json")
    assert edited.status_code == 200 and edited.json()["body"] == "Booked, both coaches"
    assert edited.json()["edited_at"] is not None
    assert member.delete(created["Location"]).status_code == 204
    assert member.get(_url(task)).json()["results"] == []
    assert member.delete(created["Location"]).status_code == 404


def test_only_the_author_or_a_moderator_changes_a_comment(people, token_for) -> None:
    task = _task(people.team_admin, people.x)
    with acting(people.team_admin):
        admins = services.comment_create(actor=people.team_admin, task_id=task.id, body="The admin's")
    with acting(people.team_member):
        members = services.comment_create(actor=people.team_member, task_id=task.id, body="The member's")
    member, admin, guest = (_client(token_for, p) for p in (people.team_member, people.team_admin, people.team_guest))
    listed = {c["id"]: c["can_change"] for c in member.get(_url(task)).json()["results"]}
    assert listed == {admins["cid"]: False, members["cid"]: True}
    refused = member.patch(_url(task, admins["cid"]), {"body": "Hijacked"}, format="json")
    assert refused.status_code == 403 and refused["Content-Type"] == "application/problem+json"
    assert member.delete(_url(task, admins["cid"])).status_code == 403
    assert TaskComment.objects.get(pk=admins["cid"]).body == "The admin's"
    # The admin moderates (comment.moderate); the guest only reads.
    assert admin.patch(_url(task, members["cid"]), {"body": "Tidied"}, format="json").status_code == 200
    assert guest.get(_url(task)).status_code == 200
    assert guest.post(_url(task), {"body": "Guest words"}, format="json").status_code == 403
    assert guest.delete(_url(task, members["cid"])).status_code == 403
    assert admin.delete(_url(task, members["cid"])).status_code == 204
    assert not TaskComment.objects.filter(pk=members["cid"]).exists()


def test_other_teams_comments_do_not_exist_for_you(people, token_for) -> None:
    task_y = _task(people.y_admin, people.y)
    with acting(people.y_admin):
        comment = services.comment_create(actor=people.y_admin, task_id=task_y.id, body="Team y's")
    admin = _client(token_for, people.team_admin)
    assert admin.get(_url(task_y)).status_code == 404
    assert admin.post(_url(task_y), {"body": "x"}, format="json").status_code == 404
    assert admin.patch(_url(task_y, comment["cid"]), {"body": "x"}, format="json").status_code == 404
    assert admin.delete(_url(task_y, comment["cid"])).status_code == 404
    # A comment id of another task under this one's path: 404 too.
    task_x = _task(people.team_admin, people.x)
    assert admin.delete(_url(task_x, comment["cid"])).status_code == 404
    assert TaskComment.objects.filter(pk=comment["cid"]).exists()


def test_bad_comment_input_is_a_problem_not_a_500(people, token_for) -> None:
    task = _task(people.team_admin, people.x)
    member = _client(token_for, people.team_member)
    for body in ({}, {"body": ""}, {"body": "   "}, {"body": "x" * 10_001}, {"body": ["list"]}):
        answer = member.post(_url(task), body, format="json")
        assert answer.status_code == 400, (body, answer.content)
        assert answer["Content-Type"] == "application/problem+json"
        assert {e["field"] for e in answer.json()["errors"]} == {"body"}
    assert member.patch(_url(task, "not-an-id"), {"body": "x"}, format="json").status_code == 404
    assert TaskComment.objects.filter(task_id=str(task.id)).count() == 0


def test_comment_create_is_idempotent_with_a_key(people, token_for) -> None:
    task = _task(people.team_admin, people.x)
    member = _client(token_for, people.team_member)
    first = member.post(_url(task), {"body": "Once"}, format="json", HTTP_IDEMPOTENCY_KEY="comment-once-1")
    again = member.post(_url(task), {"body": "Once"}, format="json", HTTP_IDEMPOTENCY_KEY="comment-once-1")
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"] and again["Idempotent-Replayed"] == "true"
    assert TaskComment.objects.filter(task_id=str(task.id)).count() == 1
    other = member.post(_url(task), {"body": "Different"}, format="json", HTTP_IDEMPOTENCY_KEY="comment-once-1")
    assert other.status_code == 422


def test_a_read_only_token_reads_comments_but_does_not_write(people, token_for) -> None:
    task = _task(people.team_admin, people.x)
    with acting(people.team_admin):
        comment = services.comment_create(actor=people.team_admin, task_id=task.id, body="Mine")
    read = _client(token_for, people.team_admin, scope="read")
    assert read.get(_url(task)).status_code == 200
    assert read.post(_url(task), {"body": "x"}, format="json").status_code == 403
    assert read.patch(_url(task, comment["cid"]), {"body": "x"}, format="json").status_code == 403
    assert read.delete(_url(task, comment["cid"])).status_code == 403


# --- attachments -----------------------------------------------------------------------------
PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"


def _files(task: Task, attachment_id: str = "") -> str:
    return f"/api/v1/tasks/{task.id}/attachments/" + (f"{attachment_id}/" if attachment_id else "")


def _upload(name: str, content: bytes) -> Any:
    return SimpleUploadedFile(name, content)


def test_upload_and_download_a_file(people, token_for) -> None:
    task = _task(people.team_member, people.x)
    member = _client(token_for, people.team_member)
    uploaded = member.post(_files(task), {"file": _upload("invoice.pdf", PDF)}, format="multipart")
    assert uploaded.status_code == 201, uploaded.content
    meta = uploaded.json()
    assert meta["name"] == "invoice.pdf" and meta["content_type"] == "application/pdf" and meta["size"] == len(PDF)
    assert uploaded["Location"] == _files(task, meta["id"])
    read = member.get(f"/api/v1/tasks/{task.id}/").json()
    assert [a["id"] for a in read["attachments"]] == [meta["id"]]
    guest = _client(token_for, people.team_guest)
    download = guest.get(uploaded["Location"])
    assert download.status_code == 200 and b"".join(download.streaming_content) == PDF
    assert download["Content-Type"] == "application/pdf" and "invoice.pdf" in download["Content-Disposition"]
    assert download["X-Content-Type-Options"] == "nosniff" and "no-store" in download["Cache-Control"]
    assert guest.get(_files(task, "0123456789abcdef")).status_code == 404


def test_upload_needs_the_right_to_change_the_task(people, token_for) -> None:
    task = _task(people.team_admin, people.x)  # not the member's
    for user in (people.team_member, people.team_guest):
        refused = _client(token_for, user).post(
            _files(task), {"file": _upload("a.txt", b"words\n")}, format="multipart"
        )
        assert refused.status_code == 403 and refused["Content-Type"] == "application/problem+json"
    assert (
        _client(token_for, people.team_admin)
        .post(_files(task), {"file": _upload("a.txt", b"words\n")}, format="multipart")
        .status_code
        == 201
    )
    task_y = _task(people.y_admin, people.y)
    outsider = _client(token_for, people.team_admin).post(
        _files(task_y), {"file": _upload("a.txt", b"words\n")}, format="multipart"
    )
    assert outsider.status_code == 404


def test_upload_content_checks_are_the_sites(people, token_for) -> None:
    task = _task(people.team_member, people.x)
    member = _client(token_for, people.team_member)
    for name, content in (("empty.txt", b""), ("tool.exe", b"MZ\x90\x00binary"), ("fake.png", PDF)):
        answer = member.post(_files(task), {"file": _upload(name, content)}, format="multipart")
        assert answer.status_code == 400, (name, answer.content)
        assert answer["Content-Type"] == "application/problem+json"
    assert member.post(_files(task), {}, format="multipart").status_code == 400  # no file
    assert member.post(_files(task), {"file": "x"}, format="json").status_code == 415
    assert member.get(f"/api/v1/tasks/{task.id}/").json()["attachments"] == []


def test_a_hidden_comments_file_is_not_served(people, token_for) -> None:
    task = _task(people.team_admin, people.x)
    with acting(people.team_member):
        comment = services.comment_create(
            actor=people.team_member, task_id=task.id, body="Invoice", upload=_upload("invoice.pdf", PDF)
        )
    file_id = comment["attachments"][0]["id"]
    member = _client(token_for, people.team_member)
    assert member.get(_files(task, file_id)).status_code == 200
    listed = member.get(_url(task)).json()["results"]
    assert [a["id"] for a in listed[0]["attachments"]] == [file_id]
    with acting(people.site_admin):
        comment_moderate(actor=people.site_admin, comment_id=comment["cid"], body="Invoice", hidden=True)
    assert member.get(_files(task, file_id)).status_code == 404
    hidden = member.get(_url(task)).json()["results"][0]
    assert hidden["hidden"] is True and hidden["body"] == "" and hidden["attachments"] == []


def test_other_teams_files_do_not_exist_for_you(people, token_for) -> None:
    task_y = _task(people.y_admin, people.y)
    with acting(people.y_admin):
        meta = services.task_attachment_add(actor=people.y_admin, task_id=task_y.id, upload=_upload("y.txt", b"y\n"))
    assert _client(token_for, people.team_admin).get(_files(task_y, meta["id"])).status_code == 404
    assert _client(token_for, people.y_admin).get(_files(task_y, meta["id"])).status_code == 200
