"""Search (PostgreSQL projection kept in step by the outbox) and the dashboards
(numbers cached in Redis, invalidated on task writes; server-rendered SVG)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from sync.relay import relay_sweep
from tasks import services
from tasks.caching import dashboard_team_key, dashboard_user_key
from tasks.models import Task
from tasks.selectors import dashboard_team, tasks_search
from tasks.tests.conftest import acting

pytestmark = pytest.mark.django_db


def _titles(user, q: str, **kw) -> list[str]:
    with acting(user):
        return [t.title for t in tasks_search(user, q, **kw).tasks]


def test_search_covers_title_description_and_tags_with_typo_tolerance(crew, make_task) -> None:
    make_task(title="Rotate database credentials", description="Use the vault")
    make_task(title="Renew certificate", description="Before it expires on the load balancer")
    make_task(title="Quarterly report", tags="billing")
    make_task(actor=crew.outsider, team_id=crew.other.id, title="Rotate other team's keys")
    relay_sweep()
    assert _titles(crew.member, "rotate") == ["Rotate database credentials"]  # not the other team's
    assert _titles(crew.member, "load balancer") == ["Renew certificate"]
    assert _titles(crew.member, "billing") == ["Quarterly report"]
    assert _titles(crew.member, "certificat") == ["Renew certificate"]  # stemming/trigram
    assert _titles(crew.member, "credentails") == ["Rotate database credentials"]  # typo
    assert _titles(crew.outsider, "rotate") == ["Rotate other team's keys"]
    assert _titles(crew.member, "rotate", team_id=crew.other.id) == []


@pytest.fixture
def ops_tasks(crew, make_task):
    """The demo tasks of the issue's examples, and look-alikes in another team."""
    for title, description, tags in (
        ("Renew the TLS certificate", "The load balancer one expires first", []),
        ("Fix the flaky backup check", "It times out at night", ["ops"]),
        ("Rehearse the backup restore", "Restore last night's dump into a scratch database", []),
        ("Check certificate expiry monitoring", "Alert a month before", []),
        ("Write the quarterly report", "Numbers from finance", []),
    ):
        make_task(title=title, description=description, tags=tags)
    make_task(actor=crew.outsider, team_id=crew.other.id, title="Other team's backup rotation")
    make_task(actor=crew.outsider, team_id=crew.other.id, title="Kubernetes upgrade")
    relay_sweep()


def test_typos_find_every_matching_task_as_the_catalogue_does(crew, ops_tasks) -> None:
    """Issue 15: "bakup" found nothing and "certficate" one of the two certificate tasks."""
    assert sorted(_titles(crew.member, "bakup")) == ["Fix the flaky backup check", "Rehearse the backup restore"]
    assert sorted(_titles(crew.member, "certficate")) == [
        "Check certificate expiry monitoring",
        "Renew the TLS certificate",
    ]
    assert _titles(crew.member, "bakup restor") == ["Rehearse the backup restore"]  # all corrected words first
    with acting(crew.member):
        result = tasks_search(crew.member, "certficate")
    assert result.mode == "typo" and result.corrected == "certificate" and not result.relaxed
    with acting(crew.member):
        exact = tasks_search(crew.member, "backup")
    assert exact.mode == "search" and len(exact.tasks) == 2  # spelt right: no correction


def test_typo_correction_keeps_to_the_persons_teams(crew, ops_tasks) -> None:
    assert _titles(crew.outsider, "bakup") == ["Other team's backup rotation"]
    assert _titles(crew.member, "bakup", team_id=crew.other.id) == []
    # A word only another team uses is never offered as a correction.
    with acting(crew.member):
        result = tasks_search(crew.member, "kubernets")
    assert result.tasks == [] and "kubernetes" not in result.words
    assert _titles(crew.outsider, "kubernets") == ["Kubernetes upgrade"]


def test_search_ranks_title_matches_first_and_highlights_them(client, crew, ops_tasks, make_task) -> None:
    make_task(title="Tidy the wiki", description="Mention the certificate runbook somewhere")
    relay_sweep()
    titles = _titles(crew.member, "certificate")
    assert titles[-1] == "Tidy the wiki" and len(titles) == 3  # a body match ranks below title matches
    client.force_login(crew.member)
    html = client.get(reverse("tasks:search"), {"q": "certficate"}).content.decode()
    assert "showing results for “certificate”" in html
    assert "Renew the TLS <mark>certificate</mark>" in html
    assert "the <mark>certificate</mark> runbook" in html
    assert "Other team" not in client.get(reverse("tasks:search"), {"q": "bakup"}).content.decode()


def test_search_follows_edits_and_deletes(crew, make_task) -> None:
    task = make_task(title="Alpha", description="first words")
    relay_sweep()
    with acting(crew.admin):
        services.task_update(
            actor=crew.admin,
            task_id=task.id,
            expected_version=1,
            title="Alpha",
            description="zebra stripes",
            status="todo",
            priority="low",
            assignee_id=None,
            due_at=None,
            tags=[],
            custom_fields={},
        )
    relay_sweep()
    assert _titles(crew.member, "zebra") == ["Alpha"] and _titles(crew.member, "first") == []
    with acting(crew.admin):
        services.task_delete(actor=crew.admin, task_id=task.id)
    relay_sweep()
    assert _titles(crew.admin, "zebra") == []


def test_search_page_escapes_user_text_in_snippets(client, crew, make_task) -> None:
    make_task(title="XSS probe", description="danger <script>alert(1)</script> payload here")
    relay_sweep()
    client.force_login(crew.member)
    html = client.get(reverse("tasks:search"), {"q": "payload"}).content.decode()
    assert "XSS probe" in html and "<script>alert(1)</script>" not in html
    assert "<mark>payload</mark>" in html
    # Not a team id at all: a 400 that says so (taskforge.params); another team's id: 404.
    assert client.get(reverse("tasks:search"), {"q": "x", "team": "nope"}).status_code == 400
    assert client.get(reverse("tasks:search"), {"q": "x", "team": crew.other.id}).status_code == 404


def test_dashboard_numbers_are_cached_and_invalidated_on_task_writes(
    client, crew, make_task, django_capture_on_commit_callbacks
) -> None:
    now = timezone.now()
    make_task(status="todo", priority="urgent", assignee_id=crew.member.pk, due_at=now - dt.timedelta(days=1))
    make_task(status="done", priority="low")
    with acting(crew.member):
        numbers = dashboard_team(crew.team.id)
    assert numbers["total"] == 2 and numbers["open"] == 1 and numbers["overdue"] == 1
    assert dict(numbers["by_status"])["Done"] == 1 and dict(numbers["by_priority"])["Urgent"] == 1
    assert dict(numbers["groups"]) == {"Mel Member": 1}
    assert len(numbers["weekly"]) == 12 and numbers["weekly"][-1][1] == 2 and numbers["weekly"][-1][2] == 1
    assert cache.get(dashboard_team_key(crew.team.id)) is not None
    with django_capture_on_commit_callbacks(execute=True):
        make_task(status="todo", assignee_id=crew.member.pk)
    assert cache.get(dashboard_team_key(crew.team.id)) is None
    assert cache.get(dashboard_user_key(crew.member.pk)) is None
    client.force_login(crew.member)
    html = client.get(reverse("tasks:dashboard_team", args=[crew.team.id])).content.decode()
    assert html.count('<svg class="chart"') == 4 and 'data-stat="total">3<' in html
    mine = client.get(reverse("tasks:dashboard")).content.decode()
    assert 'data-stat="open">2<' in mine and "Open tasks by team" in mine


def test_dashboard_labels_are_escaped(client, crew, make_task) -> None:
    crew.member.display_name = "<script>alert(1)</script>"
    crew.member.save(update_fields=["display_name"])
    make_task(assignee_id=crew.member.pk)
    client.force_login(crew.admin)
    html = client.get(reverse("tasks:dashboard_team", args=[crew.team.id])).content.decode()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html


def test_dashboard_of_another_team_is_404(client, crew) -> None:
    client.force_login(crew.outsider)
    assert client.get(reverse("tasks:dashboard_team", args=[crew.team.id])).status_code == 404
    with acting(crew.outsider):
        assert Task.objects.count() == 0


def test_the_outbox_keeps_each_teams_search_vocabulary(crew, make_task) -> None:
    from django.db import connection

    make_task(title="Rotate credentials", description="In the vault", tags="security")
    make_task(actor=crew.outsider, team_id=crew.other.id, title="Kubernetes upgrade")
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM tasks_search_word")
        assert cursor.fetchone()[0] == 0  # written by the relay, with the projection
        relay_sweep()
        cursor.execute("SELECT team_id, word FROM tasks_search_word ORDER BY team_id, word")
        words = cursor.fetchall()
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'tasks_search_word_trgm_idx'")
        index = cursor.fetchone()
    mine = {w for t, w in words if t == crew.team.id}
    assert mine == {"rotate", "credentials", "the", "vault", "security"}
    assert {w for t, w in words if t == crew.other.id} == {"kubernetes", "upgrade"}
    assert index is not None and "gist (word gist_trgm_ops)" in index[0]
