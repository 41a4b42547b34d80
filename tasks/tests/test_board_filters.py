"""Board filters (issue 19): assignee, priority, tag, due (overdue / this week / none) and
"mine", kept in the URL; a move or a quick add on a filtered board keeps the filter; invalid
values get a 400 with the reason."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from sync.relay import relay_sweep

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def _titles(html: str) -> list[str]:
    return sorted(re.findall(r'<a class="card-title" id="card-[^"]+" href="[^"]+">([^<]+)</a>', html))


@pytest.fixture
def board(people, member2, make_task):
    now = timezone.now()
    today = now.date()
    monday = timezone.make_aware(dt.datetime.combine(today - dt.timedelta(days=today.weekday()), dt.time(12)))
    make_task(title="mine urgent", priority="urgent", assignee_id=people.team_member.pk, tags="billing")
    make_task(title="max high", priority="high", assignee_id=member2.pk, due_at=monday + dt.timedelta(days=6))
    make_task(title="late", due_at=now - dt.timedelta(days=30), tags="billing, ops")
    make_task(title="late but done", due_at=now - dt.timedelta(days=30), status="done")
    make_task(title="next month", due_at=now + dt.timedelta(days=40))
    relay_sweep()  # the tag search projection
    return reverse("tasks:board", args=[people.x.id])


def test_each_filter_narrows_the_board(client, people, member2, board) -> None:
    client.force_login(people.team_member)

    def shown(query: dict) -> list[str]:
        response = client.get(board, query)
        assert response.status_code == 200, response.content[:300]
        return _titles(response.content.decode())

    everything = ["late", "late but done", "max high", "mine urgent", "next month"]
    assert shown({}) == everything
    assert shown({"mine": "1"}) == ["mine urgent"]
    assert shown({"assignee": "me"}) == ["mine urgent"]
    assert shown({"assignee": str(member2.pk)}) == ["max high"]
    assert shown({"assignee": "none"}) == ["late", "late but done", "next month"]
    assert shown({"priority": "urgent"}) == ["mine urgent"]
    assert shown({"priority": ["urgent", "high"]}) == ["max high", "mine urgent"]
    assert shown({"tag": "Billing"}) == ["late", "mine urgent"]
    assert shown({"due": "overdue"}) == ["late"]
    assert shown({"due": "week"}) == ["max high"]
    assert shown({"due": "none"}) == ["mine urgent"]
    assert shown({"tag": "billing", "due": "overdue"}) == ["late"]
    assert shown({"priority": ""}) == everything  # "Any" from the form


def test_a_filtered_board_is_a_link_with_its_own_counts_and_cache(client, people, board) -> None:
    client.force_login(people.team_member)
    html = client.get(board, {"priority": "urgent"}).content.decode()
    assert '<option value="urgent" selected>' in html and "Clear filters" in html
    assert re.search(r'id="col-todo".*?data-count>1<', html, re.S)
    # The unfiltered board (same viewer kind) is cached apart from it, both ways round.
    assert len(_titles(client.get(board).content.decode())) == 5
    assert _titles(client.get(board, {"priority": "urgent"}).content.decode()) == ["mine urgent"]


def test_mine_is_per_person_even_from_the_cache(client, people, member2, board) -> None:
    client.force_login(people.team_member)
    assert _titles(client.get(board, {"mine": "1"}).content.decode()) == ["mine urgent"]
    client.force_login(member2)
    assert _titles(client.get(board, {"mine": "1"}).content.decode()) == ["max high"]


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ({"assignee": "999999"}, "Choose a member of this team"),
        ({"assignee": "²"}, "Choose a member of this team"),
        ({"priority": "critical"}, "Select a valid choice"),
        ({"due": "yesterday"}, "Select a valid choice"),
        ({"tag": "x" * 41}, "at most 40 characters"),
        ({"mine": "1", "assignee": "none"}, "cannot both be chosen"),
    ],
)
def test_invalid_filters_answer_400_with_the_reason(client, people, board, query, reason) -> None:
    client.force_login(people.team_member)
    response = client.get(board, query)
    assert response.status_code == 400
    html = response.content.decode()
    assert "Some filters are not valid" in html and reason in html
    assert 'id="board"' not in html and "Clear filters" in html


def test_an_outsider_gets_404_whatever_the_filters(client, people, board) -> None:
    client.force_login(people.y_admin)
    assert client.get(board, {"priority": "urgent"}).status_code == 404
    assert client.get(board, {"priority": "nope"}).status_code == 404


def test_a_move_on_a_filtered_board_returns_filtered_columns(client, people, make_task, board) -> None:
    client.force_login(people.team_admin)
    current = f"http://testserver{board}?priority=medium"
    html = client.get(board, {"priority": "medium"}).content.decode()
    late_id = re.search(r'id="card-([^"]+)"[^>]*>\s*<a class="card-title"[^>]*>late</a>', html).group(1)
    response = client.post(
        reverse("tasks:move", args=[late_id]),
        {"status": "in_progress", "version": 1},
        HTTP_HX_CURRENT_URL=current,
        **HTMX,
    )
    assert response.status_code == 200
    returned = response.content.decode()
    assert "mine urgent" not in returned and "max high" not in returned  # filtered out
    assert re.search(r'id="col-todo".*?data-count>1<', returned, re.S)  # "next month" stays


def test_a_quick_add_hidden_by_the_filters_says_so(client, people, board) -> None:
    client.force_login(people.team_admin)
    response = client.post(
        reverse("tasks:quick_add", args=[people.x.id]),
        {"title": "Plain one", "status": "todo"},
        HTTP_HX_CURRENT_URL=f"http://testserver{board}?priority=urgent",
        **HTMX,
    )
    assert response.status_code == 200
    assert "Added “Plain one” to To do. The filters of this board hide it." in response.content.decode()
