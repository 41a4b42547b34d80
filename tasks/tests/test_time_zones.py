"""Due dates in each person's time zone (issue 19): entered and shown in it, stored in UTC;
cached boards and lists are per time zone; no "UTC" labels."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.services.profile import profile_update
from sync.relay import relay_sweep
from taskforge.testing.personas import acting
from tasks.models import Task

pytestmark = pytest.mark.django_db
AUCKLAND = "Pacific/Auckland"  # UTC+12 in May


@pytest.fixture
def kiwi(people, django_capture_on_commit_callbacks):
    """The team member, living in Auckland."""
    user = people.team_member
    with django_capture_on_commit_callbacks(execute=True), acting(user):
        profile_update(
            user=user,
            first_name="Kiri",
            last_name="Member",
            bio="",
            theme="system",
            notify_email=True,
            notify_in_app=True,
            email_cadence="daily",
            time_zone=AUCKLAND,
        )
    relay_sweep()
    return user


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_due_date_is_entered_in_the_persons_zone_and_stored_in_utc(people, kiwi) -> None:
    client = _client(kiwi)
    form = client.get(reverse("tasks:new", args=[people.x.id])).content.decode()
    assert "UTC" not in form and "In your time zone" in form
    response = client.post(
        reverse("tasks:new", args=[people.x.id]),
        {"title": "Ship it", "status": "todo", "priority": "medium", "due_at": "2031-05-06T09:00"},
    )
    assert response.status_code == 302, response.content[:400]
    with acting(kiwi):
        task = Task.objects.get(title="Ship it")
    assert task.due_at == dt.datetime(2031, 5, 5, 21, 0, tzinfo=dt.UTC)
    # The edit form shows it back as it was entered.
    edit = client.get(reverse("tasks:edit", args=[task.id])).content.decode()
    assert 'value="2031-05-06T09:00"' in edit


def test_the_board_shows_each_person_due_dates_in_their_zone(people, kiwi, make_task) -> None:
    make_task(title="Late evening", due_at=dt.datetime(2031, 5, 5, 21, 0, tzinfo=dt.UTC))
    board = reverse("tasks:board", args=[people.x.id])
    theirs = _client(kiwi).get(board).content.decode()
    assert "due 6 May" in theirs and f"2031-05-06 09:00 {AUCKLAND}" in theirs
    # Another person in UTC sees the same moment on their own day (not the cached Auckland board).
    mine = _client(people.team_admin).get(board).content.decode()
    assert "due 5 May" in mine and "2031-05-05 21:00 UTC" in mine
    assert "UTC" not in re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", "", mine)  # no "in UTC" labels
    # The task page and the list too.
    task_id = re.search(r'id="card-([0-9a-f-]{36})"', theirs).group(1)
    page = _client(kiwi).get(reverse("tasks:detail", args=[task_id])).content.decode()
    assert f"2031-05-06 09:00 {AUCKLAND}" in page
    listing = _client(kiwi).get(reverse("tasks:list", args=[people.x.id])).content.decode()
    assert f"2031-05-06 09:00 {AUCKLAND}" in listing, re.findall(r"<td data-label=.Due.>.*?</td>", listing)


def test_due_windows_are_the_persons_days(people, kiwi, make_task) -> None:
    make_task(title="Auckland morning", due_at=dt.datetime(2031, 5, 5, 21, 0, tzinfo=dt.UTC))
    url = reverse("tasks:list", args=[people.x.id])
    window = {"due_from": "2031-05-06", "due_to": "2031-05-06"}
    assert "Auckland morning" in _client(kiwi).get(url, window).content.decode()
    assert "Auckland morning" not in _client(people.team_admin).get(url, window).content.decode()


def test_the_zone_does_not_leak_to_the_next_request(people, kiwi, client) -> None:
    _client(kiwi).get(reverse("tasks:board", args=[people.x.id]))
    response = client.get("/")  # anonymous, maybe on the same thread
    assert response.status_code == 200
    assert timezone.get_current_timezone_name() == "UTC"
