"""In-app notifications: which events notify whom, the Redis unread count (INCR on create,
reset on read-all, recomputed on a miss), marking read, the due-date scan, the in-app
preference, and the bell/list endpoints that htmx polls."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from sync.models import OutboxEvent
from sync.relay import relay_sweep
from taskforge.dbcontext import DbContext, db_context
from tasks import documents, services
from tasks.caching import unread_key
from tasks.selectors.notifications import unread_count
from tasks.selectors.tasks import task_for_user
from tasks.services.notifications import notification_email_hook
from tasks.tests.conftest import acting

pytestmark = pytest.mark.django_db


def _kinds(user) -> list[str]:
    relay_sweep()
    return sorted(d["kind"] for d in documents.notifications().find({"user_id": user.pk}))


def _move(actor, task, status) -> None:
    with acting(actor):
        current = task_for_user(actor, task.id)
        services.task_move(actor=actor, task_id=task.id, status=status, expected_version=current.version)


def test_assignment_notifies_the_assignee_but_not_the_actor(crew, make_task) -> None:
    make_task(actor=crew.member, assignee_id=crew.member2.pk)
    make_task(actor=crew.member, assignee_id=crew.member.pk)  # self-assignment: nobody
    assert _kinds(crew.member2) == ["task_assigned"]
    assert _kinds(crew.member) == []


def test_status_changes_notify_the_creator_and_watchers(crew, make_task) -> None:
    task = make_task(actor=crew.member)
    with acting(crew.guest):
        services.task_watch_set(actor=crew.guest, task_id=task.id, watch=True)
    _move(crew.admin, task, "in_progress")
    assert _kinds(crew.member) == ["task_status"]
    assert _kinds(crew.guest) == ["task_status"]
    assert _kinds(crew.admin) == []  # the actor
    assert _kinds(crew.member2) == []  # not involved
    with acting(crew.guest):
        services.task_watch_set(actor=crew.guest, task_id=task.id, watch=False)
    _move(crew.admin, task, "in_review")
    assert _kinds(crew.guest) == ["task_status"]
    assert _kinds(crew.member) == ["task_status", "task_status"]


def test_comments_notify_watchers(crew, make_task) -> None:
    task = make_task(actor=crew.admin)
    with acting(crew.member2):
        services.task_watch_set(actor=crew.member2, task_id=task.id, watch=True)
    with acting(crew.member):
        services.comment_create(actor=crew.member, task_id=task.id, body="looks good")
    assert _kinds(crew.admin) == ["task_comment"] and _kinds(crew.member2) == ["task_comment"]
    assert _kinds(crew.member) == []


def test_unread_count_increments_recomputes_and_resets(crew, make_task) -> None:
    make_task(assignee_id=crew.member.pk)
    relay_sweep()
    assert cache.get(unread_key(crew.member.pk)) is None  # nothing cached yet: no INCR from nothing
    assert unread_count(crew.member.pk) == 1  # recomputed from MongoDB on the miss
    assert cache.get(unread_key(crew.member.pk)) == 1
    make_task(assignee_id=crew.member.pk)
    relay_sweep()
    assert cache.get(unread_key(crew.member.pk)) == 2  # INCR on create
    cache.delete(unread_key(crew.member.pk))
    assert unread_count(crew.member.pk) == 2
    first = documents.notifications().find_one({"user_id": crew.member.pk})
    assert services.notification_mark_read(user=crew.member, notification_id=first["_id"]) is True
    assert services.notification_mark_read(user=crew.member, notification_id=first["_id"]) is False
    assert unread_count(crew.member.pk) == 1
    assert services.notifications_mark_all_read(user=crew.member) == 1
    assert cache.get(unread_key(crew.member.pk)) == 0 and unread_count(crew.member.pk) == 0


def test_a_user_cannot_mark_someone_elses_notification(client, crew, make_task) -> None:
    make_task(assignee_id=crew.member.pk)
    relay_sweep()
    doc = documents.notifications().find_one({"user_id": crew.member.pk})
    client.force_login(crew.member2)
    assert client.post(reverse("tasks:notification_read", args=[doc["_id"]])).status_code == 404
    assert documents.notifications().find_one({"_id": doc["_id"]})["state"] == "unread"
    client.force_login(crew.member)
    response = client.post(reverse("tasks:notification_read", args=[doc["_id"]]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and b"0</span> unread" in response.content
    assert documents.notifications().find_one({"_id": doc["_id"]})["state"] == "read"


def test_replaying_a_notification_event_creates_one_document_and_counts_once(crew, make_task) -> None:
    from tasks.sync import notification_apply_event

    make_task(assignee_id=crew.member.pk)
    unread_count(crew.member.pk)  # cache the count (0)
    event = OutboxEvent.objects.get(aggregate_type="notification")
    notification_apply_event(event)
    notification_apply_event(event)
    assert documents.notifications().count_documents({"user_id": crew.member.pk}) == 1
    assert cache.get(unread_key(crew.member.pk)) == 1


def test_due_scan_notifies_once_per_deadline(crew, make_task) -> None:
    now = timezone.now()
    make_task(title="soon", assignee_id=crew.member.pk, due_at=now + dt.timedelta(hours=5))
    make_task(title="late", assignee_id=crew.member.pk, due_at=now - dt.timedelta(hours=2))
    make_task(title="unassigned late", actor=crew.member2, due_at=now - dt.timedelta(days=1))
    make_task(title="far", assignee_id=crew.member.pk, due_at=now + dt.timedelta(days=3))
    make_task(title="done late", assignee_id=crew.member.pk, due_at=now - dt.timedelta(days=1), status="done")
    relay_sweep()
    with db_context(DbContext(role="system")):
        assert services.notifications_due_scan(now=now) == 3
        relay_sweep()
        assert services.notifications_due_scan(now=now) == 0  # already notified
        assert services.notifications_due_scan(now=now + dt.timedelta(hours=6)) == 1  # "soon" is now overdue
    relay_sweep()
    mine = sorted(
        (d["title"], d["kind"])
        for d in documents.notifications().find({"user_id": crew.member.pk})
        if d["kind"].startswith("task_due") or d["kind"] == "task_overdue"
    )
    assert mine == [("late", "task_overdue"), ("soon", "task_due_soon"), ("soon", "task_overdue")]
    assert [d["title"] for d in documents.notifications().find({"user_id": crew.member2.pk})] == ["unassigned late"]


def test_due_scan_job_runs_as_a_system_job(crew, make_task) -> None:
    from tasks.services.notifications import due_scan

    make_task(assignee_id=crew.member.pk, due_at=timezone.now() + dt.timedelta(hours=1))
    relay_sweep()
    assert due_scan.run() == 1


def test_in_app_preference_off_means_no_in_app_notification(crew, make_task) -> None:
    from accounts.services import profile_update

    with acting(crew.member):
        profile_update(
            user=crew.member,
            first_name="Mel",
            last_name="M",
            bio="",
            theme="system",
            notify_email=True,
            notify_in_app=False,
            email_cadence="immediate",
        )
    relay_sweep()
    cache.clear()
    make_task(assignee_id=crew.member.pk)
    make_task(assignee_id=crew.member2.pk)
    assert _kinds(crew.member) == []
    assert _kinds(crew.member2) == ["task_assigned"]


def test_bell_and_list_poll_with_htmx(client, crew, make_task, settings) -> None:
    settings.NOTIFICATION_POLL_SECONDS = 7
    make_task(assignee_id=crew.member.pk, title="Polled task")
    relay_sweep()
    assert client.get(reverse("tasks:notifications_badge")).status_code == 286  # signed out: stop polling
    client.force_login(crew.member)
    bell = client.get(reverse("tasks:notifications_badge")).content.decode()
    assert 'hx-trigger="every 7s"' in bell and "data-unread>1</span>" in bell
    page = client.get(reverse("tasks:notifications")).content.decode()
    assert "Polled task" in page and 'hx-trigger="every 7s"' in page
    fragment = client.get(reverse("tasks:notifications") + "?fragment=list", HTTP_HX_REQUEST="true")
    assert b"<html" not in fragment.content and b"Polled task" in fragment.content
    assert client.post(reverse("tasks:notifications_read_all")).status_code == 302
    assert "data-unread" not in client.get(reverse("tasks:notifications_badge")).content.decode()
    home = client.get("/").content.decode()
    assert 'hx-get="/notifications/badge/"' in home  # the bell is in the header for staff


def test_notifications_degrade_when_the_document_server_is_down(client, crew, docserver) -> None:
    client.force_login(crew.member)
    docserver.stop()
    try:
        page = client.get(reverse("tasks:notifications"))
        assert page.status_code == 200 and b"Notifications are unavailable right now" in page.content
        assert client.get(reverse("tasks:notifications_badge")).status_code == 200
        assert client.post(reverse("tasks:notifications_read_all")).status_code == 503
    finally:
        docserver.start()


def test_each_notification_is_handed_to_the_email_side_once(crew, make_task) -> None:
    from mail.models import EmailDelivery

    make_task(assignee_id=crew.member.pk, title="Mail me")
    [event] = OutboxEvent.objects.filter(aggregate_type="notification")
    delivery = EmailDelivery.objects.get(idempotency_key=f"notif:{event.aggregate_id}")
    assert delivery.kind == "task_assigned"
    notification_email_hook(
        notification_id=event.aggregate_id, user_id=crew.member.pk, kind="task_assigned", summary="again", url="/tasks/"
    )
    assert EmailDelivery.objects.filter(idempotency_key=f"notif:{event.aggregate_id}").count() == 1


def _unread(user, task=None) -> int:
    query = {"user_id": user.pk, "state": "unread"}
    if task is not None:
        query["task_id"] = str(task.id)
    return len(list(documents.notifications().find(query, {"_id": 1})))


def test_opening_a_task_marks_the_viewers_notifications_about_it_read(client, crew, make_task) -> None:
    opened = make_task(actor=crew.admin, assignee_id=crew.member.pk)  # notifies the member (assigned)
    elsewhere = make_task(actor=crew.admin, assignee_id=crew.member.pk)
    with acting(crew.member2):
        services.task_watch_set(actor=crew.member2, task_id=opened.id, watch=True)
    _move(crew.admin, opened, "in_progress")  # notifies the member (a watcher) and member2 again
    relay_sweep()
    assert (_unread(crew.member, opened), _unread(crew.member, elsewhere), _unread(crew.member2, opened)) == (2, 1, 1)
    assert unread_count(crew.member.pk) == 3  # the bell's count, now cached in Redis
    assert cache.get(unread_key(crew.member.pk)) == 3

    client.force_login(crew.member)
    assert client.get(reverse("tasks:detail", args=[opened.id])).status_code == 200
    assert _unread(crew.member, opened) == 0
    assert _unread(crew.member, elsewhere) == 1  # other tasks' notifications stay unread
    assert _unread(crew.member2, opened) == 1  # and so do other people's
    assert unread_count(crew.member.pk) == 1 and cache.get(unread_key(crew.member.pk)) == 1
    bell = client.get(reverse("tasks:notifications_badge"))
    assert b"data-unread>1</span>" in bell.content

    # Someone who can no longer see the task gets 404, and nothing of theirs is marked read.
    from accounts.models import Membership

    Membership.objects.filter(team=crew.team, user=crew.member2).delete()
    client.force_login(crew.member2)
    assert client.get(reverse("tasks:detail", args=[opened.id])).status_code == 404
    assert _unread(crew.member2, opened) == 1
