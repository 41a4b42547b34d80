"""Quick add at the top of a board column (issue 19): through the task create service, errors
shown in place with the title kept, and who may add."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import Membership
from accounts.permissions import permissions_invalidate
from taskforge.dbcontext import context_for_system, db_context
from taskforge.testing.personas import acting
from tasks.models import Task

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def _url(people) -> str:
    return reverse("tasks:quick_add", args=[people.x.id])


def _titles(people) -> list[str]:
    with acting(people.team_admin):
        return sorted(Task.objects.filter(team=people.x).values_list("title", flat=True))


def test_a_member_adds_a_task_to_a_column_and_the_column_comes_back(client, people) -> None:
    client.force_login(people.team_member)
    board = client.get(reverse("tasks:board", args=[people.x.id])).content.decode()
    assert 'id="quick-in_progress"' in board and 'name="csrfmiddlewaretoken" value="tf-csrf-slot"' not in board
    response = client.post(_url(people), {"title": "  Rotate the keys ", "status": "in_progress"}, **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Added “Rotate the keys” to In progress." in html  # also in #board-live
    assert 'id="col-in_progress"' in html and 'hx-swap-oob="true"' in html and "Rotate the keys" in html
    assert "quick-in_progress-title" in response["HX-Trigger-After-Settle"]  # the cursor goes back
    with acting(people.team_member):
        task = Task.objects.get(title="Rotate the keys")
    assert (task.status, task.creator_id, task.version) == ("in_progress", people.team_member.pk, 1)


def test_without_javascript_the_board_is_shown_again(client, people) -> None:
    client.force_login(people.team_admin)
    response = client.post(_url(people), {"title": "Plain form", "status": "backlog"})
    assert response.status_code == 302 and response.url == reverse("tasks:board", args=[people.x.id])
    assert _titles(people) == ["Plain form"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"title": "   ", "status": "todo"}, "This field is required."),
        ({"title": "x" * 201, "status": "todo"}, "at most 200 characters"),
        ({"title": "Keep me", "status": "later"}, "That column does not exist"),
    ],
)
def test_a_refused_title_comes_back_in_place_with_the_draft(client, people, data, message) -> None:
    client.force_login(people.team_member)
    response = client.post(_url(people), data, **HTMX)
    assert response.status_code == 400
    html = response.content.decode()
    assert message in html and 'aria-invalid="true"' in html
    assert response["HX-Retarget"].startswith("#quick-") and response["HX-Reswap"] == "outerHTML"
    if data["title"].strip():
        assert f'value="{data["title"]}"' in html  # the draft is not lost
    assert _titles(people) == []
    plain = client.post(_url(people), data)  # without JavaScript: the form on its own page
    assert plain.status_code == 400 and message in plain.content.decode()


def test_a_guest_has_no_quick_add_and_is_refused_with_the_draft_kept(client, people) -> None:
    client.force_login(people.team_guest)
    assert 'class="quick-add"' not in client.get(reverse("tasks:board", args=[people.x.id])).content.decode()
    response = client.post(_url(people), {"title": "Sneaky", "status": "todo"}, **HTMX)
    assert response.status_code == 403 and 'value="Sneaky"' in response.content.decode()
    assert _titles(people) == []


def test_an_outsider_learns_nothing_about_the_team(client, people) -> None:
    client.force_login(people.y_admin)
    assert client.post(_url(people), {"title": "Hello", "status": "todo"}, **HTMX).status_code == 404
    assert _titles(people) == []


def test_a_member_who_became_a_guest_while_typing_keeps_the_title(client, people) -> None:
    client.force_login(people.team_member)
    with db_context(context_for_system("test demote")):
        Membership.objects.filter(team=people.x, user=people.team_member).update(role="guest")
    permissions_invalidate(people.x.id)
    response = client.post(_url(people), {"title": "Half typed", "status": "todo"}, **HTMX)
    assert response.status_code == 403
    assert 'value="Half typed"' in response.content.decode()
