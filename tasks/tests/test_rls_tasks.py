"""Row-level security on task rows and the history function, checked at the database level
from both sides (members see and write their team's rows; outsiders and empty contexts don't)."""

from __future__ import annotations

import uuid

import pytest
from django.db import IntegrityError, connection, transaction

from taskforge.dbcontext import context_for_system, db_context
from taskforge.testing.personas import acting

pytestmark = pytest.mark.django_db


def _scalar(sql: str, params: list | None = None):
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.fetchone()[0]


def test_task_table_has_forced_row_level_security() -> None:
    assert _scalar("SELECT relrowsecurity AND relforcerowsecurity FROM pg_class WHERE relname = 'tasks_task'")


def test_members_see_their_team_tasks_and_nobody_else_does(people, make_task) -> None:
    task = make_task()
    sql = "SELECT count(*) FROM tasks_task WHERE id = %s"
    for user in (people.team_admin, people.team_member, people.team_guest):
        with acting(user):
            assert _scalar(sql, [task.id]) == 1
    with acting(people.y_admin):
        assert _scalar(sql, [task.id]) == 0
    assert _scalar(sql, [task.id]) == 0  # no context at all
    with acting(people.y_admin):
        assert _scalar("SELECT count(*) FROM tasks_task") == 0
    with db_context(context_for_system("pytest")):  # site admins (Django admin, seeding, system jobs)
        assert _scalar(sql, [task.id]) == 1


def test_outsiders_cannot_write_rows_of_another_team(people, make_task) -> None:
    task = make_task()
    with acting(people.y_admin):
        with connection.cursor() as cursor:
            cursor.execute("UPDATE tasks_task SET title = 'pwned' WHERE id = %s", [task.id])
            assert cursor.rowcount == 0
            cursor.execute("DELETE FROM tasks_task WHERE id = %s", [task.id])
            assert cursor.rowcount == 0
        with pytest.raises(Exception, match="row-level security"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(
                    "INSERT INTO tasks_task (id, team_id, title, status, priority, created_at, updated_at, version) "
                    "VALUES (%s, %s, 'x', 'todo', 'low', now(), now(), 1)",
                    [uuid.uuid4(), people.x.id],
                )
    with acting(people.team_member):
        assert _scalar("SELECT title FROM tasks_task WHERE id = %s", [task.id]) == "A task"
        with connection.cursor() as cursor:  # and the member's own write goes through
            cursor.execute("UPDATE tasks_task SET title = 'renamed' WHERE id = %s", [task.id])
            assert cursor.rowcount == 1


def test_the_database_refuses_an_assignee_outside_the_team(people, make_task) -> None:
    task = make_task()
    with acting(people.team_admin), pytest.raises(IntegrityError, match="tasks_task_assignee_member_fk"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("UPDATE tasks_task SET assignee_id = %s WHERE id = %s", [people.y_admin.pk, task.id])


def test_leaving_the_team_unassigns_the_member(people, make_task) -> None:
    from accounts.models import Membership
    from tasks.models import Task

    task = make_task(assignee_id=people.team_member.pk)
    Membership.objects.filter(team=people.x, user=people.team_member).delete()
    with acting(people.team_admin):
        assert Task.objects.get(id=task.id).assignee_id is None


def test_history_function_serves_members_only(people, make_task) -> None:
    task = make_task()
    sql = "SELECT count(*) FROM tasks_task_history(%s)"
    with acting(people.team_guest):
        assert _scalar(sql, [str(task.id)]) >= 2  # the row INSERT and the detail INSERT
        # ... without opening the audit log itself, and the caller's role is put back
        assert _scalar("SELECT count(*) FROM audit_log") == 0
        assert _scalar("SELECT current_setting('rls.role', true)") == "user"
    with acting(people.y_admin):
        assert _scalar(sql, [str(task.id)]) == 0
    assert _scalar(sql, [str(task.id)]) == 0  # no context


def test_history_function_returns_only_that_tasks_rows(people, make_task) -> None:
    first = make_task(title="first")
    second = make_task(title="second")
    with acting(people.team_member):
        ids = {
            r
            for (r,) in _rows(
                "SELECT DISTINCT new_values->>'title' FROM tasks_task_history(%s) WHERE table_name = 'tasks_task'",
                [str(first.id)],
            )
        }
    assert ids == {"first"}
    assert second.id != first.id


def _rows(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def test_history_function_is_for_the_application_role_only() -> None:
    from audit.rlscheck import definer_functions

    [history] = [f for f in definer_functions() if f.signature.startswith("tasks_task_history(")]
    assert not history.public and history.app_role and not history.problem
