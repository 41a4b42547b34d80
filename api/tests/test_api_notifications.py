"""Notifications: your own, listed unread first; marking one (only yours) or all read."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone
from rest_framework.test import APIClient

from tasks.models import Notification


def notification_make(user: Any, nid: str, *, minutes_ago: int = 0, read: bool = False) -> str:
    Notification.objects.create(
        id=nid,
        user_id=user.pk,
        kind="task_assigned",
        read=read,
        task_id="",
        team_id=None,
        title=f"Task {nid}",
        message="Ada assigned you this task",
        created_at=timezone.now() - dt.timedelta(minutes=minutes_ago),
    )
    return nid


def _client(token_for: Any, user: Any, scope: str = "read_write") -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(user, scope=scope)}")
    return client


def test_list_mark_read_and_mark_all_read(people, token_for) -> None:
    member = people.team_member
    old = notification_make(member, "n-old", minutes_ago=30)
    new = notification_make(member, "n-new", minutes_ago=1)
    seen = notification_make(member, "n-seen", minutes_ago=0, read=True)
    notification_make(people.team_admin, "n-admins")
    client = _client(token_for, member)
    listed = client.get("/api/v1/notifications/").json()
    assert [n["id"] for n in listed["results"]] == [new, old, seen]  # unread first, then newest
    first = client.post(f"/api/v1/notifications/{old}/read/")
    assert first.status_code == 200 and first.json() == {"id": old, "read": True, "changed": True}
    assert client.post(f"/api/v1/notifications/{old}/read/").json()["changed"] is False
    assert client.post("/api/v1/notifications/read-all/").json() == {"marked": 1}
    assert all(n["read"] for n in client.get("/api/v1/notifications/").json()["results"])


def test_only_your_own(people, token_for) -> None:
    theirs = notification_make(people.team_admin, "n-theirs")
    client = _client(token_for, people.team_member)
    refused = client.post(f"/api/v1/notifications/{theirs}/read/")
    assert refused.status_code == 404 and refused["Content-Type"] == "application/problem+json"
    assert client.get("/api/v1/notifications/").json()["results"] == []
    assert client.post("/api/v1/notifications/read-all/").json() == {"marked": 0}
    assert Notification.objects.get(pk=theirs).read is False
    reader = _client(token_for, people.team_admin, scope="read")
    assert reader.get("/api/v1/notifications/").status_code == 200
    assert reader.post(f"/api/v1/notifications/{theirs}/read/").status_code == 403  # a read-only token
    assert Notification.objects.get(pk=theirs).read is False
    assert APIClient().get("/api/v1/notifications/").status_code == 401
