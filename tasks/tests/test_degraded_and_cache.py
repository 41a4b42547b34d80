"""The document server down: tasks are still created and the page says details are pending
until the relay catches up. Task pages are cached (cache-aside, 5 minutes) and invalidated
on every write."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.urls import reverse

from sync.models import OutboxEvent
from sync.relay import relay_sweep, store_pause_clear
from taskforge.testing.personas import acting
from tasks.caching import TASK_PAGE_TTL, task_page_key
from tasks.models import Task

pytestmark = pytest.mark.django_db


def test_task_created_while_documents_are_down_shows_details_pending_then_catches_up(
    client,
    people,
    docserver,
    django_capture_on_commit_callbacks,
    monkeypatch,
) -> None:
    client.force_login(people.team_member)
    docserver.stop()
    try:
        with django_capture_on_commit_callbacks(execute=True):  # the fast path runs and fails
            response = client.post(
                reverse("tasks:new", args=[people.x.id]),
                {
                    "title": "Written while down",
                    "description": "The *details*",
                    "status": "todo",
                    "priority": "medium",
                    "tags": "outage",
                },
            )
        assert response.status_code == 302
        with acting(people.team_member):
            task = Task.objects.get(title="Written while down")
        page = client.get(reverse("tasks:detail", args=[task.id]))
        assert page.status_code == 200
        assert b"Written while down" in page.content and b"Details pending" in page.content
        assert b"document server is unavailable" in page.content
        assert OutboxEvent.objects.get(aggregate_id=str(task.id)).status == "pending"
        assert client.get(reverse("tasks:board", args=[people.x.id])).status_code == 200
        assert client.get(reverse("tasks:edit", args=[task.id])).status_code == 200  # edits from the outbox state
    finally:
        docserver.start()
    # Skip the relay's waiting (backoff and the pause after an outage) instead of sleeping it out.
    OutboxEvent.objects.update(next_attempt_at="2000-01-01T00:00:00Z", locked_by="")
    store_pause_clear()
    assert relay_sweep() >= 1
    page = client.get(reverse("tasks:detail", args=[task.id])).content.decode()
    assert "Details pending" not in page and "<em>details</em>" in page and "outage" in page


def test_pending_relay_is_shown_even_when_the_server_is_up(client, people, make_task) -> None:
    task = make_task(description="not applied yet")
    client.force_login(people.team_member)
    assert b"still being synced" in client.get(reverse("tasks:detail", args=[task.id])).content
    relay_sweep()
    assert b"still being synced" not in client.get(reverse("tasks:detail", args=[task.id])).content


def test_task_page_is_cached_and_invalidated_on_every_write(
    client, people, make_task, django_capture_on_commit_callbacks
) -> None:
    task = make_task(description="first text")
    relay_sweep()
    client.force_login(people.team_admin)
    assert b"first text" in client.get(reverse("tasks:detail", args=[task.id])).content
    key = task_page_key(task.id)
    assert 0 < cache.ttl(key) <= TASK_PAGE_TTL
    # Mark the cached copy: the next page shows the mark only if it was served from the cache.
    bundle = cache.get(key)
    bundle["description_html"] = "<p>cached copy</p>"
    cache.set(key, bundle, TASK_PAGE_TTL)
    assert b"cached copy" in client.get(reverse("tasks:detail", args=[task.id])).content
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("tasks:comment_create", args=[task.id]), {"body": "a new comment"})
    assert cache.get(key) is None
    page = client.get(reverse("tasks:detail", args=[task.id])).content
    assert b"a new comment" in page and b"cached copy" not in page and b"first text" in page
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("tasks:move", args=[task.id]), {"status": "in_progress", "version": 1})
    assert cache.get(key) is None
    page = client.get(reverse("tasks:detail", args=[task.id])).content.decode()
    assert "In progress" in page and "Status</span>: To do → In progress" in page  # history from the audit log
