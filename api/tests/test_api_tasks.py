"""The tasks resource: list (filters, sorts, typo-tolerant search), create, read, update,
delete and move, with If-Match (412 stale, 428 missing) and Idempotency-Key — and the same
rules as the pages, from both sides. The race tests run real parallel requests."""

from __future__ import annotations

import threading
from typing import Any

from django.db import connections
from rest_framework.test import APIClient

from api.tests.conftest import bearer
from taskforge.dbcontext import context_for_system, db_context
from taskforge.testing.personas import acting
from tasks import services
from tasks.models import Task

PARALLEL = 6


def _task(actor: Any, team: Any, title: str = "Book the coaches", **fields: Any) -> Task:
    with acting(actor):
        return services.task_create(actor=actor, team_id=team.pk, title=title, **fields)


def _client(token_for: Any, user: Any, scope: str = "read_write") -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(user, scope=scope)}")
    return client


def test_create_read_and_list_a_task(people, token_for) -> None:
    client = _client(token_for, people.team_member)
    body = {
        "team": people.x.slug,
        "title": "Book the Chamonix coaches",
        "description": "Two coaches",
        "priority": "high",
        "assignee_id": people.team_member.pk,
        "tags": ["Transport", "ops"],
    }
    created = client.post("/api/v1/tasks/", body, format="json")
    assert created.status_code == 201, created.content
    task = created.json()
    assert task["title"] == "Book the Chamonix coaches" and task["team"] == people.x.slug
    assert task["tags"] == ["transport", "ops"] and task["status"] == "todo" and task["version"] == 1
    assert created["ETag"] == f'"task-{task["id"]}-v1"'
    assert created["Location"] == f"/api/v1/tasks/{task['id']}/"
    read = client.get(created["Location"])
    assert read.status_code == 200 and read.json()["description"] == "Two coaches"
    assert read["ETag"] == created["ETag"]
    assert client.get(created["Location"], HTTP_IF_NONE_MATCH=read["ETag"]).status_code == 304
    mine = client.get("/api/v1/tasks/", {"assignee": "me"}).json()
    assert [t["id"] for t in mine["results"]] == [task["id"]] and mine["mode"] == "list"


def test_list_filters_sorts_and_pages_like_the_list_page(people, token_for) -> None:
    for n, priority in enumerate(["low", "urgent", "medium"]):
        _task(people.team_admin, people.x, f"Task {n}", priority=priority)
    _task(people.y_admin, people.y, "Team y's own")
    client = _client(token_for, people.team_guest)
    listed = client.get("/api/v1/tasks/", {"team": people.x.slug}).json()
    assert [t["priority"] for t in listed["results"]] == ["urgent", "medium", "low"]  # the page's default sort
    titles = client.get("/api/v1/tasks/", {"sort": "title"}).json()["results"]
    assert [t["title"] for t in titles] == ["Task 0", "Task 1", "Task 2"]  # never team y's
    urgent = client.get("/api/v1/tasks/", {"priority": "urgent"}).json()["results"]
    assert [t["title"] for t in urgent] == ["Task 1"]
    first = client.get("/api/v1/tasks/", {"sort": "title", "page_size": 2}).json()
    # Pages of the list page's size (25): all three on one page, no next link.
    assert len(first["results"]) == 3 and first["next"] is None
    bad = client.get("/api/v1/tasks/", {"due_from": "2026-02-02", "due_to": "2026-01-01"})
    assert bad.status_code == 400 and bad["Content-Type"] == "application/problem+json"
    assert {e["field"] for e in bad.json()["errors"]} == {"due_to"}
    assert client.get("/api/v1/tasks/", {"team": people.y.slug}).status_code == 404
    assert client.get("/api/v1/tasks/", {"assignee": str(people.team_admin.pk)}).status_code == 400  # needs team
    by_member = client.get("/api/v1/tasks/", {"team": people.x.slug, "assignee": str(people.team_admin.pk)})
    assert by_member.status_code == 200


def test_search_is_the_sites_typo_tolerant_search(people, token_for) -> None:
    from sync.relay import relay_sweep

    _task(people.team_admin, people.x, "Coaches for Chamonix", tags=["transport"])
    _task(people.y_admin, people.y, "Coaches for Zermatt")
    relay_sweep()  # the search projection and vocabulary
    client = _client(token_for, people.team_member)
    exact = client.get("/api/v1/tasks/", {"q": "coaches"}).json()
    assert exact["mode"] == "search" and [t["title"] for t in exact["results"]] == ["Coaches for Chamonix"]
    typo = client.get("/api/v1/tasks/", {"q": "chamonx"}).json()
    assert typo["mode"] == "typo" and typo["corrected_query"] == "chamonix"
    assert [t["title"] for t in typo["results"]] == ["Coaches for Chamonix"]


def test_update_needs_a_current_if_match(people, token_for) -> None:
    task = _task(people.team_member, people.x, "Draft")
    client = _client(token_for, people.team_member)
    url = f"/api/v1/tasks/{task.id}/"
    etag = client.get(url)["ETag"]
    missing = client.patch(url, {"title": "No tag"}, format="json")
    assert missing.status_code == 428
    changed = client.patch(url, {"title": "Final", "due_at": "2026-03-01T09:00:00Z"}, format="json", HTTP_IF_MATCH=etag)
    assert changed.status_code == 200, changed.content
    assert changed.json()["title"] == "Final" and changed.json()["due_at"] == "2026-03-01T09:00:00Z"
    assert changed.json()["version"] == 2 and changed["ETag"] != etag
    stale = client.patch(url, {"title": "Lost update"}, format="json", HTTP_IF_MATCH=etag)
    assert stale.status_code == 412 and stale["Content-Type"] == "application/problem+json"
    assert client.get(url).json()["title"] == "Final"
    refused = client.patch(url, {"status": "done", "priority": "nope"}, format="json", HTTP_IF_MATCH=changed["ETag"])
    assert refused.status_code == 400 and {e["field"] for e in refused.json()["errors"]} == {"priority"}
    # The service's own rules answer too: a guest cannot be assigned.
    guest = client.patch(url, {"assignee_id": people.team_guest.pk}, format="json", HTTP_IF_MATCH=changed["ETag"])
    assert guest.status_code == 400 and guest.json()["errors"][0]["field"] == "assignee"


def test_move_follows_the_boards_rules(people, token_for) -> None:
    task = _task(people.team_member, people.x, "Move me", status="backlog")
    client = _client(token_for, people.team_member)
    url = f"/api/v1/tasks/{task.id}/move/"
    etag = client.get(f"/api/v1/tasks/{task.id}/")["ETag"]
    assert client.post(url, {"status": "todo"}, format="json").status_code == 428
    not_allowed = client.post(url, {"status": "done"}, format="json", HTTP_IF_MATCH=etag)
    assert not_allowed.status_code == 400 and "Backlog" in not_allowed.json()["detail"]
    moved = client.post(url, {"status": "in_progress"}, format="json", HTTP_IF_MATCH=etag)
    assert moved.status_code == 200 and moved.json()["status"] == "in_progress" and moved.json()["version"] == 2
    assert client.post(url, {"status": "done"}, format="json", HTTP_IF_MATCH=etag).status_code == 412
    done = client.post(url, {"status": "done"}, format="json", HTTP_IF_MATCH=moved["ETag"])
    assert done.status_code == 200 and done.json()["done_at"] is not None
    assert client.post(url, {"status": "todo"}, format="json", HTTP_IF_MATCH="*").status_code == 200


def test_who_may_change_move_and_delete(people, token_for) -> None:
    admins = _task(people.team_admin, people.x, "The admin's")
    members = _task(people.team_member, people.x, "The member's")
    member = _client(token_for, people.team_member)
    guest = _client(token_for, people.team_guest)
    admin = _client(token_for, people.team_admin)
    outsider = _client(token_for, people.y_admin)

    def patch(client: APIClient, task: Task) -> int:
        return client.patch(
            f"/api/v1/tasks/{task.id}/", {"priority": "low"}, format="json", HTTP_IF_MATCH="*"
        ).status_code

    assert patch(member, members) == 200  # their own
    assert patch(member, admins) == 403  # someone else's
    assert patch(guest, members) == 403
    assert patch(admin, members) == 200  # any task of the team
    assert patch(outsider, members) == 404  # may not know it exists
    assert guest.post("/api/v1/tasks/", {"team": people.x.slug, "title": "t"}, format="json").status_code == 403
    assert outsider.post("/api/v1/tasks/", {"team": people.x.slug, "title": "t"}, format="json").status_code == 404
    reader = _client(token_for, people.team_admin, scope="read")
    assert reader.get(f"/api/v1/tasks/{admins.id}/").status_code == 200
    assert reader.delete(f"/api/v1/tasks/{admins.id}/").status_code == 403
    assert member.delete(f"/api/v1/tasks/{members.id}/").status_code == 403  # task.delete: admins
    assert admin.delete(f"/api/v1/tasks/{members.id}/", HTTP_IF_MATCH='"task-0-v1"').status_code == 412
    assert admin.delete(f"/api/v1/tasks/{members.id}/").status_code == 204
    with acting(people.team_admin):
        assert not Task.objects.filter(id=members.id).exists()
    assert admin.get(f"/api/v1/tasks/{members.id}/").status_code == 404


def test_create_refuses_bad_input_with_field_errors(people, token_for) -> None:
    client = _client(token_for, people.team_member)
    for body, field in [
        ({"team": people.x.slug}, "title"),
        ({"team": people.x.slug, "title": "t", "status": "later"}, "status"),
        ({"team": people.x.slug, "title": "t", "tags": ["<script>"]}, "tags"),
        ({"team": people.x.slug, "title": "t", "assignee_id": people.y_admin.pk}, "assignee"),
        ({"team": people.x.slug, "title": "t", "due_at": "tomorrow"}, "due_at"),
    ]:
        answer = client.post("/api/v1/tasks/", body, format="json")
        assert answer.status_code == 400, (body, answer.content)
        assert answer["Content-Type"] == "application/problem+json"
        assert field in {e["field"] for e in answer.json()["errors"]}, (body, answer.json())
    with acting(people.team_member):
        assert not Task.objects.filter(team_id=people.x.pk).exists()


def test_idempotency_key_repeats_the_first_create(people, token_for) -> None:
    client = _client(token_for, people.team_member)
    body = {"team": people.x.slug, "title": "Once"}
    first = client.post("/api/v1/tasks/", body, format="json", HTTP_IDEMPOTENCY_KEY="task-once-1")
    again = client.post("/api/v1/tasks/", body, format="json", HTTP_IDEMPOTENCY_KEY="task-once-1")
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"] and again["Idempotent-Replayed"] == "true"
    other = client.post("/api/v1/tasks/", {**body, "title": "Twice"}, format="json", HTTP_IDEMPOTENCY_KEY="task-once-1")
    assert other.status_code == 422
    with acting(people.team_member):
        assert Task.objects.filter(team_id=people.x.pk).count() == 1


def _race(requests: list[Any]) -> list[Any]:
    """Run the callables at the same moment, each in its own thread and connection."""
    barrier = threading.Barrier(len(requests))
    answers: list[Any] = [None] * len(requests)

    def run(n: int) -> None:
        try:
            barrier.wait(timeout=10)
            answers[n] = requests[n]()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return answers


def _race_setup(tag: str) -> tuple[Any, str]:
    from accounts.services.api_tokens import api_token_create
    from taskforge.testing.personas import people_create

    people = people_create(tag)
    with db_context(context_for_system("test")):
        secret = api_token_create(user=people.team_admin, name="race", scope="read_write").secret
    return people, secret


def test_parallel_moves_with_one_etag_apply_once(committed_db, settings) -> None:
    settings.API_TOKEN_RATE = settings.API_IP_RATE = "100000/minute"
    people, secret = _race_setup("taskmove")
    task = _task(people.team_admin, people.x, "Raced", status="todo")
    url = f"/api/v1/tasks/{task.id}/"
    etag = APIClient().get(url, **bearer(secret))["ETag"]
    targets = ["in_progress", "done", "backlog"] * 2

    def move(status: str) -> Any:
        return lambda: APIClient().post(
            url + "move/", {"status": status}, format="json", HTTP_IF_MATCH=etag, **bearer(secret)
        )

    answers = _race([move(status) for status in targets])
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200] + [412] * (PARALLEL - 1), [(a.status_code, a.content[:120]) for a in answers]
    winner = next(answer.json() for answer in answers if answer.status_code == 200)
    now = APIClient().get(url, **bearer(secret)).json()
    assert now["status"] == winner["status"] and now["version"] == 2


def test_parallel_updates_with_one_etag_apply_once(committed_db, settings) -> None:
    settings.API_TOKEN_RATE = settings.API_IP_RATE = "100000/minute"
    people, secret = _race_setup("taskpatch")
    task = _task(people.team_admin, people.x, "Raced")
    url = f"/api/v1/tasks/{task.id}/"
    etag = APIClient().get(url, **bearer(secret))["ETag"]
    answers = _race(
        [
            (
                lambda n=n: APIClient().patch(
                    url, {"title": f"writer {n}"}, format="json", HTTP_IF_MATCH=etag, **bearer(secret)
                )
            )
            for n in range(PARALLEL)
        ]
    )
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200] + [412] * (PARALLEL - 1), [(a.status_code, a.content[:120]) for a in answers]
    winner = next(answer.json()["title"] for answer in answers if answer.status_code == 200)
    assert APIClient().get(url, **bearer(secret)).json()["title"] == winner


def test_parallel_creates_with_one_idempotency_key_create_once(committed_db, settings) -> None:
    settings.API_TOKEN_RATE = settings.API_IP_RATE = "100000/minute"
    people, secret = _race_setup("taskidem")
    body = {"team": people.x.slug, "title": "Exactly once"}

    def create() -> Any:
        return APIClient().post(
            "/api/v1/tasks/", body, format="json", HTTP_IDEMPOTENCY_KEY="race-key-1", **bearer(secret)
        )

    answers = _race([create for _ in range(PARALLEL)])
    statuses = [answer.status_code for answer in answers]
    assert set(statuses) <= {201, 409} and 201 in statuses, statuses
    ids = {answer.json()["id"] for answer in answers if answer.status_code == 201}
    assert len(ids) == 1, ids
    with acting(people.team_admin):
        assert list(Task.objects.filter(team_id=people.x.pk).values_list("title", flat=True)) == ["Exactly once"]
    # A repeat after the race: the first answer again, nothing new.
    again = create()
    assert again.status_code == 201 and again.json()["id"] in ids and again["Idempotent-Replayed"] == "true"
