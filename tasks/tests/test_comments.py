"""Comments: markdown rendered safely, @mentions, edit marks "edited", author/admin only,
audited through audit_record_content, and a clear 503 when the document server is down."""

from __future__ import annotations

import json

import pytest
from bson import ObjectId
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.urls import reverse

from sync.models import OutboxEvent
from sync.relay import relay_sweep
from taskforge.dbcontext import context_for_system, db_context
from taskforge.errors import NotFound
from taskforge.mongo import documents_collection
from taskforge.testing.personas import acting
from tasks import services
from tasks.models import Notification, TaskComment
from tasks.rendering import markdown_render, mention_handles

pytestmark = pytest.mark.django_db


def _audit_rows(task_id) -> list[tuple]:
    with db_context(context_for_system("pytest")), connection.cursor() as cursor:
        cursor.execute(
            "SELECT operation, new_values, user_id FROM audit_log WHERE table_name = 'task_comment' "
            "AND record_id = %s ORDER BY id",
            [str(task_id)],
        )
        return [(op, json.loads(new) if isinstance(new, str) else new, uid) for op, new, uid in cursor.fetchall()]


@pytest.mark.parametrize(
    "payload",
    [
        "<script>alert(1)</script>",
        "[x](javascript:alert(1))",
        "<img src=x onerror=alert(1)>",
        '<a href="#" onclick="alert(1)">x</a>',
        "<iframe src=//evil></iframe>",
        "<svg onload=alert(1)>",
    ],
)
def test_markdown_is_rendered_without_any_way_to_run_script(payload: str) -> None:
    html = str(markdown_render(f"**bold** {payload}"))
    assert "<strong>bold</strong>" in html
    lowered = html.lower()
    assert "<script" not in lowered and "javascript:" not in lowered and "onerror" not in lowered
    assert "onclick" not in lowered and "<iframe" not in lowered and "<svg" not in lowered and "<img" not in lowered


def test_mentions_are_parsed_and_highlighted_only_for_members() -> None:
    assert mention_handles("hi @kim and @sam@taskforge.local, not an@email.com") == ["kim", "sam@taskforge.local"]
    html = str(markdown_render("ping @kim and @nobody", mentions=["kim"]))
    assert '<span class="mention">@kim</span>' in html and "@nobody" in html and 'mention">@nobody' not in html


def test_comment_with_mention_notifies_the_member_and_is_audited(client, people, member2, make_task) -> None:
    task = make_task()
    handle = member2.email.split("@")[0]
    client.force_login(people.team_member)
    body = f"Can you look, @{handle}? Also @{people.y_admin.email.split('@')[0]}"
    response = client.post(reverse("tasks:comment_create", args=[task.id]), {"body": body})
    assert response.status_code == 302
    docs = list(documents_collection(TaskComment).find({"task_id": str(task.id)}))
    assert len(docs) == 1 and docs[0]["mentions"] == [member2.pk]  # the outsider is not a member
    kinds = {
        (e.payload["user_id"], e.payload["kind"]) for e in OutboxEvent.objects.filter(aggregate_type="notification")
    }
    assert (member2.pk, "task_mentioned") in kinds
    assert (people.team_admin.pk, "task_comment") in kinds  # the creator watches the task
    assert all(uid != people.y_admin.pk for uid, _ in kinds)
    rows = _audit_rows(task.id)
    assert rows[-1][0] == "INSERT" and rows[-1][1]["body"] == body and rows[-1][2] == people.team_member.pk
    page = client.get(reverse("tasks:detail", args=[task.id])).content.decode()
    assert f'<span class="mention">@{handle}</span>' in page


def test_authors_and_team_admins_edit_and_delete_comments_others_cannot(client, people, member2, make_task) -> None:
    task = make_task()
    with acting(people.team_member):
        doc = services.comment_create(actor=people.team_member, task_id=task.id, body="first words")
    for stranger in (member2, people.team_guest):
        with acting(stranger), pytest.raises(PermissionDenied):
            services.comment_update(actor=stranger, task_id=task.id, comment_id=doc["_id"], body="hijack")
    with acting(people.y_admin), pytest.raises(NotFound):
        services.comment_delete(actor=people.y_admin, task_id=task.id, comment_id=doc["_id"])
    client.force_login(member2)
    assert client.post(reverse("tasks:comment_edit", args=[task.id, doc["_id"]]), {"body": "x"}).status_code == 403
    client.force_login(people.team_member)
    assert client.get(reverse("tasks:comment_edit", args=[task.id, doc["_id"]])).status_code == 200
    response = client.post(reverse("tasks:comment_edit", args=[task.id, doc["_id"]]), {"body": "better words"})
    assert response.status_code == 302
    stored = documents_collection(TaskComment).find_one({"_id": ObjectId(doc["_id"])})
    assert stored["body"] == "better words" and stored["edited_at"] is not None
    assert "edited" in client.get(reverse("tasks:detail", args=[task.id])).content.decode()
    client.force_login(people.team_admin)  # comment.moderate
    assert client.post(reverse("tasks:comment_delete", args=[task.id, doc["_id"]])).status_code == 302
    assert documents_collection(TaskComment).count_documents({"task_id": str(task.id)}) == 0
    assert [r[0] for r in _audit_rows(task.id)] == ["INSERT", "UPDATE", "DELETE"]


def test_empty_or_oversized_comments_are_refused(client, people, make_task) -> None:
    task = make_task()
    client.force_login(people.team_member)
    assert client.post(reverse("tasks:comment_create", args=[task.id]), {"body": "   "}).status_code == 400
    assert client.post(reverse("tasks:comment_create", args=[task.id]), {"body": "x" * 10_001}).status_code == 400
    assert documents_collection(TaskComment).count_documents({}) == 0


def test_commenting_while_the_document_server_is_down_is_a_clear_503(client, people, make_task, docserver) -> None:
    task = make_task()
    client.force_login(people.team_member)
    before = OutboxEvent.objects.count()
    docserver.stop()
    try:
        response = client.post(reverse("tasks:comment_create", args=[task.id]), {"body": "hello @x"})
        assert response.status_code == 503
        assert b"document server is down" in response.content and b"not saved" in response.content
        page = client.get(reverse("tasks:detail", args=[task.id]))
        assert page.status_code == 200 and b"Comments are unavailable right now" in page.content
    finally:
        docserver.start()
    assert OutboxEvent.objects.count() == before  # no notifications for a comment that does not exist
    assert _audit_rows(task.id) == []


def test_mention_autocomplete_lists_matching_team_members(client, people, member2) -> None:
    client.force_login(people.team_member)
    html = client.get(reverse("tasks:members", args=[people.x.id]), {"q": "@ma"}).content.decode()
    assert "Max Member" in html
    assert str(people.team_member) not in html and str(people.y_admin) not in html  # no match; not in the team
    assert 'data-mention-insert="@' in html


def test_relay_applies_notifications_of_a_comment(people, member2, make_task) -> None:
    task = make_task(assignee_id=people.team_member.pk)
    with acting(member2):
        services.comment_create(actor=member2, task_id=task.id, body="done?")
    relay_sweep()
    kinds = sorted(d["kind"] for d in documents_collection(Notification).find({"user_id": people.team_member.pk}))
    assert kinds == ["task_assigned", "task_comment"]
