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
from sync.relay import relay_sweep, store_pause_clear
from taskforge.dbcontext import context_for_system, db_context
from taskforge.mongo import documents_collection
from taskforge.testing.personas import acting
from tasks import services
from tasks.caching import unread_key
from tasks.models import Notification
from tasks.selectors.notifications import unread_count
from tasks.selectors.tasks import task_for_user
from tasks.services.notifications import notification_email_hook

pytestmark = pytest.mark.django_db


def _kinds(user) -> list[str]:
    relay_sweep()
    return sorted(d["kind"] for d in documents_collection(Notification).find({"user_id": user.pk}))


def _move(actor, task, status) -> None:
    with acting(actor):
        current = task_for_user(actor, task.id)
        services.task_move(actor=actor, task_id=task.id, status=status, expected_version=current.version)


def test_assignment_notifies_the_assignee_but_not_the_actor(people, member2, make_task) -> None:
    make_task(actor=people.team_member, assignee_id=member2.pk)
    make_task(actor=people.team_member, assignee_id=people.team_member.pk)  # self-assignment: nobody
    assert _kinds(member2) == ["task_assigned"]
    assert _kinds(people.team_member) == []


def test_status_changes_notify_the_creator_and_watchers(people, member2, make_task) -> None:
    task = make_task(actor=people.team_member)
    with acting(people.team_guest):
        services.task_watch_set(actor=people.team_guest, task_id=task.id, watch=True)
    _move(people.team_admin, task, "in_progress")
    assert _kinds(people.team_member) == ["task_status"]
    assert _kinds(people.team_guest) == ["task_status"]
    assert _kinds(people.team_admin) == []  # the actor
    assert _kinds(member2) == []  # not involved
    with acting(people.team_guest):
        services.task_watch_set(actor=people.team_guest, task_id=task.id, watch=False)
    _move(people.team_admin, task, "in_review")
    assert _kinds(people.team_guest) == ["task_status"]
    assert _kinds(people.team_member) == ["task_status", "task_status"]


def test_comments_notify_watchers(people, member2, make_task) -> None:
    task = make_task(actor=people.team_admin)
    with acting(member2):
        services.task_watch_set(actor=member2, task_id=task.id, watch=True)
    with acting(people.team_member):
        services.comment_create(actor=people.team_member, task_id=task.id, body="looks good")
    assert _kinds(people.team_admin) == ["task_comment"] and _kinds(member2) == ["task_comment"]
    assert _kinds(people.team_member) == []


def test_unread_count_increments_recomputes_and_resets(people, make_task) -> None:
    make_task(assignee_id=people.team_member.pk)
    relay_sweep()
    assert cache.get(unread_key(people.team_member.pk)) is None  # nothing cached yet: no INCR from nothing
    assert unread_count(people.team_member.pk) == 1  # recomputed from MongoDB on the miss
    assert cache.get(unread_key(people.team_member.pk)) == 1
    make_task(assignee_id=people.team_member.pk)
    relay_sweep()
    assert cache.get(unread_key(people.team_member.pk)) == 2  # INCR on create
    cache.delete(unread_key(people.team_member.pk))
    assert unread_count(people.team_member.pk) == 2
    first = documents_collection(Notification).find_one({"user_id": people.team_member.pk})
    assert services.notification_mark_read(user=people.team_member, notification_id=first["_id"]) is True
    assert services.notification_mark_read(user=people.team_member, notification_id=first["_id"]) is False
    assert unread_count(people.team_member.pk) == 1
    assert services.notifications_mark_all_read(user=people.team_member) == 1
    assert cache.get(unread_key(people.team_member.pk)) == 0 and unread_count(people.team_member.pk) == 0


def test_a_user_cannot_mark_someone_elses_notification(client, people, member2, make_task) -> None:
    make_task(assignee_id=people.team_member.pk)
    relay_sweep()
    doc = documents_collection(Notification).find_one({"user_id": people.team_member.pk})
    client.force_login(member2)
    assert client.post(reverse("tasks:notification_read", args=[doc["_id"]])).status_code == 404
    assert documents_collection(Notification).find_one({"_id": doc["_id"]})["read"] is False
    client.force_login(people.team_member)
    response = client.post(reverse("tasks:notification_read", args=[doc["_id"]]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and b"0</span> unread" in response.content
    assert documents_collection(Notification).find_one({"_id": doc["_id"]})["read"] is True


def test_replaying_a_notification_event_creates_one_document_and_counts_once(people, make_task) -> None:
    from tasks.sync import notification_apply_event

    make_task(assignee_id=people.team_member.pk)
    unread_count(people.team_member.pk)  # cache the count (0)
    event = OutboxEvent.objects.get(aggregate_type="notification")
    notification_apply_event(event)
    notification_apply_event(event)
    assert documents_collection(Notification).count_documents({"user_id": people.team_member.pk}) == 1
    assert cache.get(unread_key(people.team_member.pk)) == 1


def test_due_scan_notifies_once_per_deadline(people, member2, make_task) -> None:
    now = timezone.now()
    make_task(title="soon", assignee_id=people.team_member.pk, due_at=now + dt.timedelta(hours=5))
    make_task(title="late", assignee_id=people.team_member.pk, due_at=now - dt.timedelta(hours=2))
    make_task(title="unassigned late", actor=member2, due_at=now - dt.timedelta(days=1))
    make_task(title="far", assignee_id=people.team_member.pk, due_at=now + dt.timedelta(days=3))
    make_task(title="done late", assignee_id=people.team_member.pk, due_at=now - dt.timedelta(days=1), status="done")
    relay_sweep()
    with db_context(context_for_system("pytest")):
        assert services.notifications_due_scan(now=now) == 3
        relay_sweep()
        assert services.notifications_due_scan(now=now) == 0  # already notified
        assert services.notifications_due_scan(now=now + dt.timedelta(hours=6)) == 1  # "soon" is now overdue
    relay_sweep()
    mine = sorted(
        (d["title"], d["kind"])
        for d in documents_collection(Notification).find({"user_id": people.team_member.pk})
        if d["kind"].startswith("task_due") or d["kind"] == "task_overdue"
    )
    assert mine == [("late", "task_overdue"), ("soon", "task_due_soon"), ("soon", "task_overdue")]
    assert [d["title"] for d in documents_collection(Notification).find({"user_id": member2.pk})] == ["unassigned late"]


def test_due_scan_job_runs_as_a_system_job(people, make_task) -> None:
    from tasks.services.notifications import due_scan

    make_task(assignee_id=people.team_member.pk, due_at=timezone.now() + dt.timedelta(hours=1))
    relay_sweep()
    assert due_scan.run() == 1


def test_in_app_preference_off_means_no_in_app_notification(people, member2, make_task) -> None:
    from accounts.services.profile import profile_update

    with acting(people.team_member):
        profile_update(
            user=people.team_member,
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
    make_task(assignee_id=people.team_member.pk)
    make_task(assignee_id=member2.pk)
    assert _kinds(people.team_member) == []
    assert _kinds(member2) == ["task_assigned"]


def test_bell_and_list_poll_with_htmx(client, people, make_task, settings) -> None:
    settings.NOTIFICATION_POLL_SECONDS = 7
    make_task(assignee_id=people.team_member.pk, title="Polled task")
    relay_sweep()
    assert client.get(reverse("tasks:notifications_badge")).status_code == 286  # signed out: stop polling
    client.force_login(people.team_member)
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


def test_notifications_degrade_when_the_document_server_is_down(client, people, docserver) -> None:
    client.force_login(people.team_member)
    docserver.stop()
    try:
        page = client.get(reverse("tasks:notifications"))
        assert page.status_code == 200 and b"Notifications are unavailable right now" in page.content
        assert client.get(reverse("tasks:notifications_badge")).status_code == 200
        assert client.post(reverse("tasks:notifications_read_all")).status_code == 503
    finally:
        docserver.start()


def test_each_notification_is_handed_to_the_email_side_once(people, make_task) -> None:
    from mail.models import EmailDelivery

    make_task(assignee_id=people.team_member.pk, title="Mail me")
    [event] = OutboxEvent.objects.filter(aggregate_type="notification")
    delivery = EmailDelivery.objects.get(idempotency_key=f"notif:{event.aggregate_id}")
    assert delivery.kind == "task_assigned"
    notification_email_hook(
        notification_id=event.aggregate_id,
        user_id=people.team_member.pk,
        kind="task_assigned",
        summary="again",
        url="/tasks/",
    )
    assert EmailDelivery.objects.filter(idempotency_key=f"notif:{event.aggregate_id}").count() == 1


def _unread(user, task=None) -> int:
    query = {"user_id": user.pk, "read": False}
    if task is not None:
        query["task_id"] = str(task.id)
    return documents_collection(Notification).count_documents(query)


def test_opening_a_task_marks_the_viewers_notifications_about_it_read(client, people, member2, make_task) -> None:
    opened = make_task(actor=people.team_admin, assignee_id=people.team_member.pk)  # notifies the member (assigned)
    elsewhere = make_task(actor=people.team_admin, assignee_id=people.team_member.pk)
    with acting(member2):
        services.task_watch_set(actor=member2, task_id=opened.id, watch=True)
    _move(people.team_admin, opened, "in_progress")  # notifies the member (a watcher) and member2 again
    relay_sweep()
    assert (_unread(people.team_member, opened), _unread(people.team_member, elsewhere), _unread(member2, opened)) == (
        2,
        1,
        1,
    )
    assert unread_count(people.team_member.pk) == 3  # the bell's count, now cached in Redis
    assert cache.get(unread_key(people.team_member.pk)) == 3

    client.force_login(people.team_member)
    assert client.get(reverse("tasks:detail", args=[opened.id])).status_code == 200
    assert _unread(people.team_member, opened) == 0
    assert _unread(people.team_member, elsewhere) == 1  # other tasks' notifications stay unread
    assert _unread(member2, opened) == 1  # and so do other people's
    assert unread_count(people.team_member.pk) == 1 and cache.get(unread_key(people.team_member.pk)) == 1
    bell = client.get(reverse("tasks:notifications_badge"))
    assert b"data-unread>1</span>" in bell.content

    # Someone who can no longer see the task gets 404, and nothing of theirs is marked read.
    from accounts.models import Membership

    Membership.objects.filter(team=people.x, user=member2).delete()
    client.force_login(member2)
    assert client.get(reverse("tasks:detail", args=[opened.id])).status_code == 404
    assert _unread(member2, opened) == 1


def test_notification_events_wait_without_using_attempts_while_documents_are_down(people, make_task, docserver) -> None:
    """The handler writes through the ORM, which wraps pymongo's ConnectionFailure: it still
    counts as "retry later" (no attempt used, never a dead letter), as a plain pymongo write did."""
    make_task(assignee_id=people.team_member.pk, title="Outage")
    OutboxEvent.objects.filter(aggregate_type="notification").update(status="pending", attempts=0)
    docserver.stop()
    try:
        relay_sweep()
        [event] = OutboxEvent.objects.filter(aggregate_type="notification")
        assert (event.status, event.attempts) == ("pending", 0)
    finally:
        docserver.start()
    store_pause_clear()  # the relay waits a little after an outage; not in a test
    OutboxEvent.objects.filter(status="pending").update(next_attempt_at=timezone.now())
    relay_sweep()
    event.refresh_from_db()
    assert event.status == "applied"
    assert Notification.objects.filter(user_id=people.team_member.pk, title="Outage").count() == 1
