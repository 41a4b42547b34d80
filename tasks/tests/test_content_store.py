"""The tasks app's content models on the document server (SecantusDB here, MongoDB 7 in
production): the hot queries use their indexes (explain shows IXSCAN), values are stored
as real types, and the behaviours the app relies on hold.

Replaces the old conformance module (the "portable subset" of nx-27017 is gone).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from bson import ObjectId
from django.utils import timezone

from sync.stores import mongo_upsert_versioned
from taskforge.mongo import documents_collection
from tasks.models import Notification, TaskComment, TaskDetail
from tasks.selectors.notifications import notifications_for, unread_count, unread_filter
from tasks.selectors.tasks import task_comments_query
from tasks.services.notifications import notification_apply
from tasks.sync import detail_fields

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)


def _plan_stages(plan: Any) -> list[str]:
    """Every `stage` named anywhere in an explain document (winning plans nest them)."""
    found: list[str] = []
    if isinstance(plan, dict):
        if isinstance(plan.get("stage"), str):
            found.append(plan["stage"])
        for key, value in plan.items():
            if key != "rejectedPlans":
                found += _plan_stages(value)
    elif isinstance(plan, list):
        for item in plan:
            found += _plan_stages(item)
    return found


def _index_names(plan: Any) -> set[str]:
    names: set[str] = set()
    if isinstance(plan, dict):
        if isinstance(plan.get("indexName"), str):
            names.add(plan["indexName"])
        for key, value in plan.items():
            if key != "rejectedPlans":
                names |= _index_names(value)
    elif isinstance(plan, list):
        for item in plan:
            names |= _index_names(item)
    return names


def _assert_index_scan(explain: Any, index: str | None = None) -> None:
    stages = _plan_stages(explain)
    assert "IXSCAN" in stages and "COLLSCAN" not in stages, stages
    if index is not None:
        assert index in _index_names(explain), _index_names(explain)


def _orm_explain(queryset: Any) -> Any:
    return json.loads(queryset.explain())


def _seed(n: int = 30) -> None:
    for i in range(n):
        TaskComment.objects.create(
            task_id=f"task-{i % 5}", team_id=1, author_id=i % 3 + 1, body=f"c{i}", created_at=T0 + dt.timedelta(i)
        )
        Notification.objects.create(
            id=f"n{i}",
            user_id=i % 4 + 1,
            kind="task_comment",
            read=i % 2 == 0,
            task_id=f"task-{i % 5}",
            created_at=T0 + dt.timedelta(minutes=i),
        )


# --- the hot paths use their indexes --------------------------------------------------------


def test_a_tasks_comments_are_read_by_the_task_index() -> None:
    _seed()
    queryset = task_comments_query("task-1").order_by("created_at")[:500]
    _assert_index_scan(_orm_explain(queryset), "task_comments_task_newest")
    newest_first = task_comments_query("task-1").order_by("-created_at")
    _assert_index_scan(_orm_explain(newest_first), "task_comments_task_newest")


def test_a_persons_notifications_unread_first_use_the_compound_index() -> None:
    _seed()
    queryset = Notification.objects.filter(user_id=2).order_by("read", "-created_at")[:50]
    _assert_index_scan(_orm_explain(queryset), "notifications_user_unread_new")


def test_the_unread_count_and_reading_a_tasks_notifications_use_the_compound_index() -> None:
    """Plain filter documents through pymongo (several conditions: see selectors.notifications)."""
    _seed()
    collection = documents_collection(Notification)
    _assert_index_scan(collection.find(unread_filter(2)).explain(), "notifications_user_unread_new")
    task_read = {**unread_filter(2), "task_id": "task-1"}
    _assert_index_scan(collection.find(task_read).explain(), "notifications_task_user_read")


def test_documents_found_by_id_use_an_index() -> None:
    _seed()
    TaskDetail.objects.create(id="d1", version=1, title="x")
    for queryset in (
        TaskDetail.objects.filter(pk="d1"),
        TaskComment.objects.filter(pk=TaskComment.objects.first().pk),
        Notification.objects.filter(pk="n3"),
    ):
        stages = _plan_stages(_orm_explain(queryset))
        assert "COLLSCAN" not in stages and ({"IXSCAN", "IDHACK", "EXPRESS_IXSCAN"} & set(stages)), stages
    _assert_index_scan(_orm_explain(TaskComment.objects.filter(legacy_id="a" * 32)))


# --- real types, and the behaviours the app relies on ---------------------------------------


def test_values_are_stored_as_real_types() -> None:
    comment = TaskComment.objects.create(task_id="t", body="b", created_at=T0, edited_at=T0)
    Notification.objects.create(id="n", user_id=1, kind="k", created_at=T0)
    raw = documents_collection(TaskComment).find_one({"_id": comment.pk})
    assert isinstance(raw["_id"], ObjectId) and isinstance(raw["edited_at"], dt.datetime)
    assert raw["hidden"] is False
    note = documents_collection(Notification).find_one({"_id": "n"})
    assert note["read"] is False and isinstance(note["created_at"], dt.datetime)
    assert "state" not in note


def test_unread_first_then_newest_first_and_the_count(django_capture_on_commit_callbacks) -> None:
    for i, read in enumerate([True, False, True, False]):
        Notification.objects.create(id=f"x{i}", user_id=9, kind="k", read=read, created_at=T0 + dt.timedelta(hours=i))
    Notification.objects.create(id="other", user_id=8, kind="k", created_at=T0)
    assert [n["nid"] for n in notifications_for(9)] == ["x3", "x1", "x2", "x0"]
    assert unread_count(9) == 2


def test_a_replayed_notification_is_created_once() -> None:
    payload = {"user_id": 5, "kind": "task_comment", "task_id": "t", "created_at": T0.isoformat(), "message": "m"}
    assert notification_apply(notification_id="once", payload=payload) is True
    assert notification_apply(notification_id="once", payload=payload) is False
    assert Notification.objects.filter(user_id=5).count() == 1
    assert Notification.objects.get(pk="once").created_at == T0


def test_the_detail_upsert_stores_datetimes_and_embedded_attachments() -> None:
    attachment = {
        "id": "a1",
        "name": "f.txt",
        "size": 3,
        "content_type": "text/plain",
        "stored_name": "ab12",
        "uploaded_by": 1,
        "uploaded_at": T0.isoformat(),
    }
    fields = detail_fields({"team_id": 1, "title": "T", "tags": ["x"], "attachments": [attachment]})
    assert mongo_upsert_versioned(documents_collection(TaskDetail), "task-9", 2, fields) is True
    assert mongo_upsert_versioned(documents_collection(TaskDetail), "task-9", 1, {**fields, "title": "old"}) is False
    detail = TaskDetail.objects.get(pk="task-9")
    assert (detail.version, detail.title, detail.tags) == (2, "T", ["x"])
    assert detail.attachments[0].uploaded_at == T0 and detail.attachments[0].name == "f.txt"
    assert isinstance(documents_collection(TaskDetail).find_one({"_id": "task-9"})["updated_at"], dt.datetime)
    assert timezone.is_aware(detail.updated_at)
