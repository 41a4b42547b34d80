"""Documents written before the content models (MongoEngine era: text times, "unread"/"read"
states, hex-UUID comment ids) are converted by tasks migration 0007, and an old comment id
still finds its comment."""

from __future__ import annotations

import datetime as dt
import importlib
import types

import pytest
from bson import ObjectId
from django.db import connections
from django.urls import reverse

from taskforge.mongo import documents_collection
from taskforge.testing.personas import acting
from tasks import services
from tasks.models import Notification, TaskComment, TaskDetail
from tasks.selectors.notifications import notifications_for

pytestmark = pytest.mark.django_db

legacy = importlib.import_module("tasks.migrations.0007_content_legacy_documents")
OLD_ID = "0123456789abcdef0123456789abcdef"
WHEN = "2026-02-01T10:30:00+00:00"


def _migrate() -> None:
    editor = types.SimpleNamespace(connection=connections["mongodb"])
    for step in (legacy.convert_details, legacy.convert_comments, legacy.convert_notifications):
        step(None, editor)
    legacy.drop_old_indexes(None, editor)


def test_old_documents_are_converted_and_old_comment_ids_still_work(client, people, make_task) -> None:
    task = make_task(actor=people.team_admin)
    attachment = {"id": "a1", "name": "f.txt", "size": 1, "content_type": "text/plain", "stored_name": "ab"}
    documents_collection(TaskComment).insert_one(
        {
            "_id": OLD_ID,
            "task_id": str(task.id),
            "team_id": task.team_id,
            "author_id": people.team_member.pk,
            "body": "from the old days",
            "mentions": [],
            "attachments": [{**attachment, "uploaded_at": WHEN}],
            "created_at": dt.datetime(2026, 2, 1, tzinfo=dt.UTC),
            "edited_at": WHEN,
        }
    )
    documents_collection(TaskDetail).insert_one({"_id": "d-old", "version": 1, "updated_at": WHEN, "attachments": []})
    for nid, state in (("n-unread", "unread"), ("n-read", "read")):
        documents_collection(Notification).insert_one(
            {
                "_id": nid,
                "user_id": 77,
                "kind": "k",
                "state": state,
                "created_at": dt.datetime(2026, 2, 1),
                "read_at": WHEN,
            }
        )
    documents_collection(Notification).create_index("user_id", name="user_id_1")
    _migrate()
    _migrate()  # idempotent

    comment = TaskComment.objects.get(legacy_id=OLD_ID)
    assert isinstance(comment.pk, ObjectId) and TaskComment.objects.count() == 1
    assert comment.edited_at == dt.datetime(2026, 2, 1, 10, 30, tzinfo=dt.UTC)
    assert comment.attachments[0].uploaded_at == comment.edited_at and comment.hidden is False
    assert isinstance(documents_collection(TaskDetail).find_one({"_id": "d-old"})["updated_at"], dt.datetime)
    assert {n["nid"]: n["read"] for n in notifications_for(77)} == {"n-unread": False, "n-read": True}
    assert "state" not in documents_collection(Notification).find_one({"_id": "n-read"})
    assert "user_id_1" not in documents_collection(Notification).index_information()

    # The old id (links, the edit form) still finds the comment; so does the new one.
    client.force_login(people.team_member)
    assert client.get(reverse("tasks:comment_edit", args=[task.id, OLD_ID])).status_code == 200
    with acting(people.team_member):
        services.comment_update(actor=people.team_member, task_id=task.id, comment_id=OLD_ID, body="edited")
    assert TaskComment.objects.get(pk=comment.pk).body == "edited"
    assert client.get(reverse("tasks:comment_edit", args=[task.id, str(comment.pk)])).status_code == 200
    assert client.get(reverse("tasks:comment_edit", args=[task.id, "not-an-id"])).status_code == 404
