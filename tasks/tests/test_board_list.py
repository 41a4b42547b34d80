"""Board (htmx moves, counts), list (filters, sorting, pagination), my tasks, and the
query budget: SQL queries per page do not grow with the number of tasks."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from sync.relay import relay_sweep
from taskforge.testing.personas import acting
from tasks.models import Task

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def _count_in_column(html: str, status: str) -> int:
    match = re.search(rf'id="col-{status}".*?<span class="badge" data-count>(\d+)</span>', html, re.S)
    assert match, status
    return int(match.group(1))


def test_board_shows_columns_with_counts(client, people, make_task) -> None:
    for status in ("todo", "todo", "in_progress", "done"):
        make_task(status=status)
    client.force_login(people.team_member)
    html = client.get(reverse("tasks:board", args=[people.x.id])).content.decode()
    assert [_count_in_column(html, s) for s in ("backlog", "todo", "in_progress", "in_review", "done")] == [
        0,
        2,
        1,
        0,
        1,
    ]


def test_htmx_move_returns_both_changed_columns_in_one_response(client, people, make_task) -> None:
    task = make_task(status="todo", title="Move me")
    make_task(status="in_progress", title="Already there")
    client.force_login(people.team_admin)
    response = client.post(reverse("tasks:move", args=[task.id]), {"status": "in_progress", "version": 1}, **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Moved “Move me” to In progress" in html
    assert html.count('hx-swap-oob="true"') == 2  # the source and the target column, nothing else
    assert _count_in_column(html, "todo") == 0 and _count_in_column(html, "in_progress") == 2
    with acting(people.team_admin):
        assert Task.objects.get(id=task.id).version == 2


def test_htmx_stale_or_invalid_move_gets_a_clear_error_and_a_fresh_board(client, people, make_task) -> None:
    task = make_task(status="todo")
    client.force_login(people.team_admin)
    client.post(reverse("tasks:move", args=[task.id]), {"status": "in_progress", "version": 1}, **HTMX)
    stale = client.post(reverse("tasks:move", args=[task.id]), {"status": "todo", "version": 1}, **HTMX)
    assert stale.status_code == 409
    assert "changed by someone else" in stale.content.decode()
    assert stale.content.decode().count('hx-swap-oob="true"') == 5
    waiting = make_task(status="backlog")
    invalid = client.post(reverse("tasks:move", args=[waiting.id]), {"status": "done", "version": 1}, **HTMX)
    assert invalid.status_code == 400 and "cannot move from" in invalid.content.decode()
    nonsense = client.post(reverse("tasks:move", args=[task.id]), {"status": "nope", "version": "x"}, **HTMX)
    assert nonsense.status_code in (400, 409)
    with acting(people.team_admin):
        assert Task.objects.get(id=task.id).status == "in_progress"


def test_list_filters_sorting_and_pagination(client, people, make_task) -> None:
    now = timezone.now()
    make_task(title="late one", due_at=now - dt.timedelta(days=2), priority="low", tags="billing")
    make_task(title="soon one", due_at=now + dt.timedelta(days=1), priority="urgent", assignee_id=people.team_member.pk)
    make_task(title="done late", due_at=now - dt.timedelta(days=3), status="done")
    for i in range(27):
        make_task(title=f"filler {i:02d}", priority="medium")
    relay_sweep()
    client.force_login(people.team_member)
    url = reverse("tasks:list", args=[people.x.id])

    def titles(query: dict) -> list[str]:
        response = client.get(url, query)
        assert response.status_code == 200, response.content[:500]
        return re.findall(r'<td data-label="Title"><a href="/tasks/[^"]+/">([^<]+)</a>', response.content.decode())

    assert titles({"overdue": "on"}) == ["late one"]
    assert titles({"assignee": "me"}) == ["soon one"]
    assert titles({"tag": "Billing"}) == ["late one"]
    assert titles({"status": ["done"]}) == ["done late"]
    assert titles({"priority": ["urgent", "low"], "sort": "priority"}) == ["soon one", "late one"]
    window = {"due_from": (now - dt.timedelta(days=2)).date().isoformat(), "due_to": now.date().isoformat()}
    assert titles(window) == ["late one"]
    page1, page2 = titles({"sort": "title"}), titles({"sort": "title", "page": 2})
    assert len(page1) == 25 and len(page2) == 5 and page1[0] == "done late"
    assert client.get(url, {"sort": "title", "page": 2}, **HTMX).status_code == 200


@pytest.mark.parametrize(
    "query",
    [
        {"status": "later"},
        {"assignee": "999999"},
        {"due_from": "yesterday"},
        {"due_from": "2026-05-02", "due_to": "2026-05-01"},
        {"sort": "random()"},
    ],
)
def test_bad_filters_get_400_with_the_reason(client, people, query) -> None:
    client.force_login(people.team_member)
    response = client.get(reverse("tasks:list", args=[people.x.id]), query)
    assert response.status_code == 400
    assert b"Some filters are not valid" in response.content


def test_my_tasks_lists_tasks_assigned_to_me_across_teams(client, people, member2, make_task) -> None:
    from accounts.models import Membership

    Membership.objects.create(team=people.y, user=people.team_member, role="member")
    make_task(title="mine in ops", assignee_id=people.team_member.pk)
    make_task(title="mine but done", assignee_id=people.team_member.pk, status="done")
    make_task(title="someone else's", assignee_id=member2.pk)
    make_task(actor=people.y_admin, team_id=people.y.id, title="mine in other", assignee_id=people.team_member.pk)
    client.force_login(people.team_member)
    html = client.get(reverse("tasks:mine")).content.decode()
    assert "mine in ops" in html and "mine in other" in html
    assert "someone else" not in html and "mine but done" not in html
    assert "mine but done" in client.get(reverse("tasks:mine"), {"all": "1"}).content.decode()


@pytest.mark.parametrize("page", ["board", "list", "mine", "detail"])
def test_queries_per_page_are_constant_in_the_number_of_tasks(
    client,
    people,
    member2,
    make_task,
    django_assert_max_num_queries,
    page,
) -> None:
    def url(task) -> str:
        return {
            "board": reverse("tasks:board", args=[people.x.id]),
            "list": reverse("tasks:list", args=[people.x.id]) + "?sort=due",
            "mine": reverse("tasks:mine"),
            "detail": reverse("tasks:detail", args=[task.id]),
        }[page]

    client.force_login(people.team_member)
    statuses = ["backlog", "todo", "in_progress", "in_review", "done"]
    first = make_task(assignee_id=people.team_member.pk, tags="x")
    client.get(url(first))  # warm the session and permission caches like a returning user
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    cache.clear()  # measure the database path, not a cached board or page
    client.get(url(first))  # and warm the session again
    cache.delete_many([k for k in cache.keys("tasks:*")])
    with CaptureQueriesContext(connection) as few:
        assert client.get(url(first)).status_code == 200
    for i in range(60):
        make_task(title=f"t{i}", status=statuses[i % 5], assignee_id=[people.team_member.pk, member2.pk][i % 2])
    relay_sweep()
    cache.delete_many([k for k in cache.keys("tasks:*")])
    with django_assert_max_num_queries(15), CaptureQueriesContext(connection) as many:
        assert client.get(url(first)).status_code == 200
    assert len(many) == len(few), [q["sql"][:120] for q in many.captured_queries]


def test_board_columns_are_cached_per_viewer_kind_until_a_task_changes(
    client,
    people,
    make_task,
    django_capture_on_commit_callbacks,
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    task = make_task(title="First card")
    url = reverse("tasks:board", args=[people.x.id])
    client.force_login(people.team_member)
    client.get(url)
    with CaptureQueriesContext(connection) as cached:
        html = client.get(url).content.decode()
    assert "First card" in html and not any("tasks_task" in q["sql"] for q in cached.captured_queries)
    assert 'data-move="in_progress"' not in html  # a member cannot move the admin's card
    client.force_login(people.team_admin)
    assert 'data-move="in_progress"' in client.get(url).content.decode()  # another viewer kind
    with django_capture_on_commit_callbacks(execute=True):
        make_task(title="Second card")
    client.force_login(people.team_member)
    html = client.get(url).content.decode()
    assert "Second card" in html and _count_in_column(html, "todo") == 2
    with django_capture_on_commit_callbacks(execute=True):
        client.force_login(people.team_admin)
        client.post(reverse("tasks:move", args=[task.id]), {"status": "in_progress", "version": 1})
    client.force_login(people.team_member)
    assert _count_in_column(client.get(url).content.decode(), "in_progress") == 1


def test_list_results_are_cached_per_query_and_refreshed_by_writes(
    client,
    people,
    member2,
    make_task,
    django_capture_on_commit_callbacks,
) -> None:
    make_task(title="Mine", assignee_id=people.team_member.pk)
    make_task(title="Theirs", assignee_id=member2.pk)
    url = reverse("tasks:list", args=[people.x.id])
    client.force_login(people.team_member)
    assert "Theirs" not in client.get(url, {"assignee": "me"}).content.decode()
    client.force_login(member2)  # "me" is per user, never shared through the cache
    html = client.get(url, {"assignee": "me"}).content.decode()
    assert "Theirs" in html and "Mine" not in html
    with django_capture_on_commit_callbacks(execute=True):
        make_task(title="Also theirs", assignee_id=member2.pk)
    assert "Also theirs" in client.get(url, {"assignee": "me"}).content.decode()


def test_a_comment_refreshes_the_task_page_but_keeps_the_board_and_dashboard_caches(
    client,
    people,
    make_task,
    django_capture_on_commit_callbacks,
) -> None:
    """Boards and dashboards are built from task rows only: a comment must not make every
    member's next board view re-render the team's columns (75 ms at 2,000 tasks)."""
    from tasks.caching import board_generation_key, dashboard_team_key, task_page_key

    task = make_task(title="Card")
    relay_sweep()
    client.force_login(people.team_admin)
    client.get(reverse("tasks:board", args=[people.x.id]))
    client.get(reverse("tasks:detail", args=[task.id]))
    client.get(reverse("tasks:dashboard_team", args=[people.x.id]))
    generation = cache.get(board_generation_key(people.x.id))
    assert generation and cache.get(task_page_key(task.id)) is not None
    assert cache.get(dashboard_team_key(people.x.id)) is not None

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("tasks:comment_create", args=[task.id]), {"body": "a comment"})
    assert response.status_code == 302

    assert cache.get(task_page_key(task.id)) is None  # the page shows the comment at once
    assert cache.get(board_generation_key(people.x.id)) == generation
    assert cache.get(dashboard_team_key(people.x.id)) is not None
    assert b"a comment" in client.get(reverse("tasks:detail", args=[task.id])).content
