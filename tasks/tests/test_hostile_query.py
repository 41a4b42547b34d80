"""Hostile query parameters on the tasks pages answer 400 with a message or are clamped,
never 500 (issue 14, item 3; the whole site: audit/tests/test_hostile_params.py)."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

SUPERSCRIPT_TWO = "\u00b2"  # str.isdigit() says yes, int() refuses it


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"q": "a\x00b"}, "The “q” parameter contains a NUL character."),
        ({"q": "x", "team": SUPERSCRIPT_TWO}, "The “team” parameter must be a whole number"),
        ({"q": "x", "team": "1" * 10_000}, "The “team” parameter must be a whole number"),
    ],
)
def test_search_refuses_bad_parameters_with_a_message(client: Client, crew, params: dict, message: str) -> None:
    client.force_login(crew.admin)
    response = client.get("/tasks/search/", params)
    assert response.status_code == 400 and message in response.content.decode()


def test_search_in_another_team_is_still_404(client: Client, crew) -> None:
    client.force_login(crew.admin)
    assert client.get("/tasks/search/", {"q": "x", "team": crew.other.id}).status_code == 404
    assert client.get("/tasks/search/", {"q": "x", "team": crew.team.id}).status_code == 200


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"assignee": SUPERSCRIPT_TWO}, "Choose a member of this team"),
        ({"assignee": "1" * 10_000}, "Choose a member of this team"),
        ({"page": "9" * 30}, "less than or equal to 10000"),
    ],
)
def test_list_filters_refuse_bad_values_with_a_message(client: Client, crew, params: dict, message: str) -> None:
    client.force_login(crew.admin)
    response = client.get(f"/tasks/teams/{crew.team.id}/list/", params)
    assert response.status_code == 400 and message in response.content.decode()


def test_my_tasks_clamp_a_huge_page(client: Client, crew, make_task) -> None:
    make_task(title="Clamped", assignee_id=crew.admin.pk)
    client.force_login(crew.admin)
    response = client.get("/tasks/mine/", {"page": "9" * 30, "sort": "\x00"})
    assert response.status_code == 200 and "Clamped" in response.content.decode()  # the last page
