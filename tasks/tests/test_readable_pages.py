"""What people read on task pages: no debug text, and history in words rather than codes
(issue 15, item 7)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from sync.relay import relay_sweep
from taskforge.testing.personas import acting
from tasks import services

pytestmark = pytest.mark.django_db


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_task_page_shows_no_cache_note_and_no_version_number(client, people, make_task) -> None:
    task = make_task(title="Plain page", description="Some words")
    relay_sweep()
    client.force_login(people.team_admin)
    for _ in range(2):  # the first request fills the cache, the second is served from it
        page = client.get(reverse("tasks:detail", args=[task.id])).content.decode()
        text = _text(page)
        assert "Plain page" in text
        assert "Served from cache" not in text
        assert not re.search(r"\bversion \d+", text), text
        assert 'data-version="1"' in page  # the page still knows it, for its forms and scripts


def test_history_shows_labels_not_codes(client, people, make_task) -> None:
    task = make_task(title="Coded fields", priority="low")
    relay_sweep()
    due = timezone.make_aware(dt.datetime(2031, 5, 6, 14, 30))
    with acting(people.team_admin):
        services.task_move(actor=people.team_admin, task_id=task.id, status="backlog", expected_version=1)
        services.task_update(
            actor=people.team_admin,
            task_id=task.id,
            expected_version=2,
            title="Coded fields",
            description="",
            status="in_progress",
            priority="urgent",
            assignee_id=people.team_member.pk,
            due_at=due,
            tags=["ops"],
            custom_fields={},
        )
    relay_sweep()
    client.force_login(people.team_admin)
    page = client.get(reverse("tasks:detail", args=[task.id])).content.decode()
    history = _text(page.split('id="history"', 1)[1])
    assert "Status : To do → Backlog" in history
    assert "Status : Backlog → In progress" in history
    assert "Priority : Low → Urgent" in history
    assert f"Assignee : — → {people.team_member}" in history
    assert "Due : — → 6 May 2031 14:30" in history
    assert "changed the details (tags)" in history
    for code in ("todo", "backlog →", "in_progress", "urgent", "low →", "assignee_id", "due_at", "status:"):
        assert code not in history, code
