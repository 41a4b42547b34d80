"""Live events are published after commit (never on rollback or refusal), on the team's or
the person's channel, with ids that grow per channel and a backlog to replay from."""

from __future__ import annotations

import pytest
import redis
from bson import ObjectId
from django.db import transaction
from django.test import override_settings

from taskforge import live
from taskforge.errors import ServiceError
from taskforge.live import KIND_BELL, KIND_BOARD, KIND_COMMENT, live_backlog, team_channel, user_channel
from taskforge.testing.personas import acting
from tasks import services
from tasks.services.comments import comment_moderate
from tasks.services.notifications import notification_apply, notifications_mark_all_read

pytestmark = pytest.mark.django_db


class Boom(Exception):
    pass


def _events(channel: str) -> list[dict]:
    return [event for _, event in live_backlog(channel, "0-0")]


def test_move_is_published_to_the_team_after_commit_only(people, make_task, django_capture_on_commit_callbacks):
    task = make_task(status="todo")
    channel = team_channel(people.x.id)
    with django_capture_on_commit_callbacks(execute=True):
        with acting(people.team_admin):
            services.task_move(actor=people.team_admin, task_id=task.id, status="in_progress", expected_version=1)
        assert _events(channel) == []  # still inside the transaction: nothing yet
    (event,) = _events(channel)
    assert event == {
        "kind": KIND_BOARD,
        "type": "task.moved",
        "task_id": str(task.id),
        "team_id": people.x.id,
        "status": "in_progress",
        "old_status": "todo",
        "version": 2,
        "actor_id": people.team_admin.pk,
    }


def test_nothing_is_published_when_the_transaction_rolls_back(people, make_task, django_capture_on_commit_callbacks):
    task = make_task(status="todo")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(Boom), transaction.atomic(), acting(people.team_admin):
            services.task_move(actor=people.team_admin, task_id=task.id, status="done", expected_version=1)
            raise Boom
    assert callbacks == []
    assert _events(team_channel(people.x.id)) == []


def test_a_refused_move_publishes_nothing(people, make_task, django_capture_on_commit_callbacks):
    task = make_task(status="backlog")
    with django_capture_on_commit_callbacks(execute=True), acting(people.team_admin):
        with pytest.raises(ServiceError):  # backlog -> done is not a transition
            services.task_move(actor=people.team_admin, task_id=task.id, status="done", expected_version=1)
    assert _events(team_channel(people.x.id)) == []


def test_create_edit_delete_each_publish_one_board_event(people, make_task, django_capture_on_commit_callbacks):
    admin = people.team_admin
    with django_capture_on_commit_callbacks(execute=True):
        task = make_task(title="Fresh")
    with django_capture_on_commit_callbacks(execute=True), acting(admin):
        services.task_delete(actor=admin, task_id=task.id)
    events = _events(team_channel(people.x.id))
    assert [(e["kind"], e["type"], e["task_id"]) for e in events] == [
        (KIND_BOARD, "task.created", str(task.id)),
        (KIND_BOARD, "task.deleted", str(task.id)),
    ]
    assert _events(team_channel(people.y.id)) == []  # another team hears nothing


def test_a_comment_is_published_on_the_team_channel_with_its_task(
    people, make_task, django_capture_on_commit_callbacks
):
    task = make_task()
    with django_capture_on_commit_callbacks(execute=True), acting(people.team_member):
        doc = services.comment_create(actor=people.team_member, task_id=task.id, body="On it")
    (event,) = [e for e in _events(team_channel(people.x.id)) if e["kind"] == KIND_COMMENT]
    assert event["type"] == "comment.created" and event["task_id"] == str(task.id)
    assert event["comment_id"] == doc["_id"]


def test_bell_changes_are_published_to_the_person_only(people, make_task, django_capture_on_commit_callbacks):
    member = people.team_member
    payload = {"user_id": member.pk, "kind": "task_assigned", "task_id": "t", "team_id": people.x.id,
               "actor_id": None, "title": "T", "message": "m", "created_at": "2030-01-01T00:00:00+00:00"}  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        assert notification_apply(notification_id="n1", payload=payload)
    with django_capture_on_commit_callbacks(execute=True):
        assert notifications_mark_all_read(user=member) == 1
    assert [e["kind"] for e in _events(user_channel(member.pk))] == [KIND_BELL, KIND_BELL]
    assert _events(user_channel(people.team_admin.pk)) == []


def test_ids_grow_per_channel_and_replay_starts_after_the_given_id():
    ids = [live.live_publish(team_channel(999), KIND_BOARD, {"n": n}) for n in range(5)]
    assert ids == sorted(ids, key=live.event_id_key) and len(set(ids)) == 5
    assert [e["n"] for _, e in live_backlog(team_channel(999), ids[1])] == [2, 3, 4]


@override_settings(LIVE_BACKLOG=10)
def test_the_backlog_is_capped():
    for n in range(400):
        live.live_publish(team_channel(998), KIND_BOARD, {"n": n})
    kept = live_backlog(team_channel(998), "0-0")
    assert len(kept) < 400 and kept[-1][1]["n"] == 399  # approximate trimming keeps whole nodes


def test_a_redis_outage_never_breaks_the_write(people, make_task, monkeypatch, django_capture_on_commit_callbacks):
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    monkeypatch.setattr(live, "_redis", lambda: dead)
    with django_capture_on_commit_callbacks(execute=True):
        task = make_task(title="Still saved")
    assert task.pk is not None
    assert live.live_publish(team_channel(people.x.id), KIND_BOARD, {}) is None


def test_a_moderated_comment_is_published_so_open_pages_hide_it(people, make_task, django_capture_on_commit_callbacks):
    task = make_task()
    with django_capture_on_commit_callbacks(execute=True), acting(people.team_member):
        doc = services.comment_create(actor=people.team_member, task_id=task.id, body="Off topic")
    with django_capture_on_commit_callbacks(execute=True), acting(people.site_admin):
        comment_moderate(actor=people.site_admin, comment_id=ObjectId(doc["_id"]), body="Off topic", hidden=True)
    events = [e for e in _events(team_channel(people.x.id)) if e["kind"] == KIND_COMMENT]
    assert [e["type"] for e in events] == ["comment.created", "comment.edited"]
    assert events[1]["comment_id"] == doc["_id"] and events[1]["actor_id"] == people.site_admin.pk
