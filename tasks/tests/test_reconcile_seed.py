"""The task reconciler (sync_reconcile) and the demo seed."""

from __future__ import annotations

import io

import pytest

from sync.reconcile import outbox_reconcile
from sync.relay import relay_sweep
from taskforge.dbcontext import context_for_system, db_context
from taskforge.mongo import documents_collection
from taskforge.testing.personas import acting
from tasks import services
from tasks.models import Task, TaskComment, TaskDetail, TaskSearch

pytestmark = pytest.mark.django_db


def test_board_moves_are_not_drift_and_lost_documents_are_repaired(people, make_task) -> None:
    moved = make_task(title="moved", description="kept")
    lost = make_task(title="lost", description="precious words", tags="x")
    relay_sweep()
    with acting(people.team_admin):
        services.task_move(actor=people.team_admin, task_id=moved.id, status="in_progress", expected_version=1)
    relay_sweep()
    [report] = outbox_reconcile(aggregate_types=["task"])
    assert report.drift == 0 and report.source == 2
    documents_collection(TaskDetail).delete_one({"_id": str(lost.id)})
    TaskSearch.objects.filter(task_id=lost.id).delete()
    [report] = outbox_reconcile(aggregate_types=["task"])
    assert report.missing == {"documents": [str(lost.id)], "projection": [str(lost.id)]}
    [report] = outbox_reconcile(aggregate_types=["task"], fix=True)
    assert report.repaired.get("reemitted") == 1
    relay_sweep()
    doc = documents_collection(TaskDetail).find_one({"_id": str(lost.id)})
    assert doc["description"] == "precious words" and doc["version"] == 1
    assert outbox_reconcile(aggregate_types=["task"])[0].drift == 0


def test_seed_demo_creates_team_ops_with_tasks_and_is_idempotent(make_user) -> None:
    from accounts.models import Membership, Team
    from tasks.seed import seed_demo

    make_user("staff", email="sam@taskforge.local", password=None)
    make_user("staff", email="kim@taskforge.local", password=None)
    out = io.StringIO()
    with db_context(context_for_system("manage.py seed_demo")):
        seed_demo(out)
        team = Team.objects.get(slug="ops")
        count = Task.objects.filter(team=team).count()
        seed_demo(out)
        assert Task.objects.filter(team=team).count() == count >= 30
        assert dict(Membership.objects.filter(team=team).values_list("user__email", "role")) == {
            "sam@taskforge.local": "admin",
            "kim@taskforge.local": "member",
        }
    relay_sweep()
    assert documents_collection(TaskComment).count_documents({}) == 24
    assert "created 36 tasks" in out.getvalue()
