"""Moves to any column (issue 19): the workflow's one refusal and its reason on the card, the
"Move to…" menu (a plain form that also works without JavaScript), and who may move what."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from taskforge.errors import ServiceError
from taskforge.testing.personas import acting
from tasks import services
from tasks.models import Task
from tasks.workflow import STATUS_TRANSITIONS, transition_refusal

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def _card(html: str, task: Task) -> str:
    match = re.search(rf'<article class="task-card" id="card-{task.id}".*?</article>', html, re.S)
    assert match, f"card {task.id} not on the board"
    return match.group(0)


def test_the_workflow_allows_every_column_but_review_or_done_from_the_backlog() -> None:
    assert STATUS_TRANSITIONS["todo"] == {"backlog", "in_progress", "in_review", "done"}
    assert STATUS_TRANSITIONS["done"] == {"backlog", "todo", "in_progress", "in_review"}
    assert STATUS_TRANSITIONS["backlog"] == {"todo", "in_progress"}
    assert transition_refusal("in_review", "backlog") is None
    assert "start it first" in transition_refusal("backlog", "done")


@pytest.mark.parametrize(("start", "target"), [("todo", "done"), ("done", "backlog"), ("in_review", "todo")])
def test_a_card_moves_to_a_column_that_is_not_its_neighbour(people, make_task, start, target) -> None:
    task = make_task(status=start)
    with acting(people.team_admin):
        moved, old = services.task_move(actor=people.team_admin, task_id=task.id, status=target, expected_version=1)
        assert (old, moved.status, Task.objects.get(id=task.id).status) == (start, target, target)


def test_the_board_says_on_the_card_why_a_column_is_refused(client, people, make_task) -> None:
    waiting = make_task(status="backlog", title="Not planned")
    client.force_login(people.team_admin)
    card = _card(client.get(reverse("tasks:board", args=[people.x.id])).content.decode(), waiting)
    # Allowed columns are buttons of the move form; refused ones are disabled, with the reason.
    assert re.search(r'<button type="submit" name="status" value="todo"[^>]*data-move="todo"', card)
    assert re.search(r'value="done"[^>]*disabled aria-describedby="why-[^"]+-done"', card)
    assert "cannot move from Backlog to Done: start it first" in card
    assert 'name="csrfmiddlewaretoken" value="tf-csrf-slot"' not in card  # filled per request


def test_the_move_menu_works_without_javascript(client, people, make_task) -> None:
    task = make_task(status="todo")
    client.force_login(people.team_admin)
    response = client.post(reverse("tasks:move", args=[task.id]), {"status": "done", "version": 1})
    assert response.status_code == 302 and response.url == reverse("tasks:board", args=[people.x.id])
    with acting(people.team_admin):
        assert Task.objects.get(id=task.id).status == "done"


def test_a_refused_move_answers_the_reason_and_changes_nothing(client, people, make_task) -> None:
    task = make_task(status="backlog", title="Idea")
    client.force_login(people.team_admin)
    response = client.post(reverse("tasks:move", args=[task.id]), {"status": "in_review", "version": 1}, **HTMX)
    assert response.status_code == 400
    html = response.content.decode()
    assert "cannot move from Backlog to In review: start it first" in html
    assert f'"card": "card-{task.id}"' in response["HX-Trigger-After-Settle"]  # focus stays on the card
    with acting(people.team_admin):
        assert Task.objects.get(id=task.id).status == "backlog"


def test_a_member_moves_their_own_card_and_is_told_why_not_others(client, people, member2, make_task) -> None:
    own = make_task(actor=people.team_member, title="Mine")
    other = make_task(actor=member2, title="Max's")
    client.force_login(people.team_member)
    html = client.get(reverse("tasks:board", args=[people.x.id])).content.decode()
    assert 'draggable="true"' in _card(html, own) and "Move to…" in _card(html, own)
    assert 'draggable="true"' not in _card(html, other) and "Move to…" not in _card(html, other)
    assert "Only its creator, its assignee or a team admin can move this task." in _card(html, other)
    allowed = client.post(reverse("tasks:move", args=[own.id]), {"status": "done", "version": 1}, **HTMX)
    assert allowed.status_code == 200 and "Moved “Mine” to Done." in allowed.content.decode()
    refused = client.post(reverse("tasks:move", args=[other.id]), {"status": "done", "version": 1}, **HTMX)
    assert refused.status_code == 403
    with acting(people.team_admin):
        assert Task.objects.get(id=other.id).status == "todo"


def test_a_guest_sees_a_read_only_board_and_cannot_move(client, people, make_task) -> None:
    task = make_task()
    client.force_login(people.team_guest)
    html = client.get(reverse("tasks:board", args=[people.x.id])).content.decode()
    assert "guests have read-only access" in html
    assert "Move to…" not in html and 'draggable="true"' not in html
    assert client.post(reverse("tasks:move", args=[task.id]), {"status": "done", "version": 1}).status_code == 403
    with acting(people.team_admin), pytest.raises(ServiceError):
        services.task_move(actor=people.team_admin, task_id=task.id, status="nope", expected_version=1)
