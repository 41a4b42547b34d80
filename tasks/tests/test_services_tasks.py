"""Task writes: row + outbox in one transaction, optimistic locking, bad input refused whole."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection

from sync.models import OutboxEvent
from sync.relay import relay_sweep
from taskforge.errors import Conflict, NotFound, ServiceError
from taskforge.mongo import documents_collection
from taskforge.testing.personas import acting
from tasks import services
from tasks.models import Task, TaskComment, TaskDetail, TaskSearch, TaskWatcher
from tasks.selectors.tasks import task_detail_current

pytestmark = pytest.mark.django_db


def _counts(people) -> tuple[int, int, int]:
    with acting(people.team_admin):
        return (
            Task.objects.filter(team=people.x).count(),
            OutboxEvent.objects.count(),
            TaskWatcher.objects.count(),
        )


def _update(task, actor, **changes):
    fields = {
        "title": task.title,
        "description": "",
        "status": task.status,
        "priority": task.priority,
        "assignee_id": task.assignee_id,
        "due_at": task.due_at,
        "tags": [],
        "custom_fields": {},
    }
    fields.update(changes)
    version = fields.pop("expected_version", task.version)
    with acting(actor):
        return services.task_update(actor=actor, task_id=task.id, expected_version=version, **fields)


def test_create_writes_row_and_outbox_event_in_one_transaction(people, make_task) -> None:
    task = make_task(description="hello", tags="Ops, ops, db", assignee_id=people.team_member.pk)
    with acting(people.team_admin):
        event = OutboxEvent.objects.get(aggregate_type="task", aggregate_id=str(task.id))
    assert event.version == 1 and event.status == "pending"
    assert event.payload["description"] == "hello" and event.payload["tags"] == ["ops", "db"]
    assert OutboxEvent.objects.filter(aggregate_type="notification").count() == 1  # assigned
    relay_sweep()
    doc = documents_collection(TaskDetail).find_one({"_id": str(task.id)})
    assert doc["version"] == 1 and doc["tags"] == ["ops", "db"]
    assert TaskSearch.objects.get(task_id=task.id).version == 1


def test_stale_edit_is_refused_and_nothing_is_overwritten(people, make_task) -> None:
    task = make_task(title="original")
    _update(task, people.team_admin, title="first edit")  # version 1 -> 2
    before = _counts(people)
    with pytest.raises(Conflict, match="changed by someone else"):
        _update(task, people.team_admin, title="stale edit", expected_version=1)
    with acting(people.team_admin):
        row = Task.objects.get(id=task.id)
    assert (row.title, row.version) == ("first edit", 2)
    assert _counts(people) == before


def test_stale_board_move_is_refused(people, make_task) -> None:
    task = make_task()
    with acting(people.team_admin):
        services.task_move(actor=people.team_admin, task_id=task.id, status="in_progress", expected_version=1)
        with pytest.raises(Conflict):
            services.task_move(actor=people.team_admin, task_id=task.id, status="backlog", expected_version=1)
        assert Task.objects.get(id=task.id).status == "in_progress"


@pytest.mark.parametrize(("start", "target"), [("backlog", "done"), ("backlog", "in_review")])
def test_invalid_status_changes_are_refused_with_a_clear_message(people, make_task, start, target) -> None:
    task = make_task(status=start)
    before = _counts(people)
    with acting(people.team_admin), pytest.raises(ServiceError, match="cannot move from"):
        services.task_move(actor=people.team_admin, task_id=task.id, status=target, expected_version=1)
    with acting(people.team_admin), pytest.raises(ServiceError, match="Unknown status"):
        services.task_move(actor=people.team_admin, task_id=task.id, status="nonsense", expected_version=1)
    with acting(people.team_admin):
        assert Task.objects.get(id=task.id).status == start
    assert _counts(people) == before


def test_assignee_outside_the_team_or_a_guest_is_refused(people, make_task) -> None:
    before = _counts(people)
    with pytest.raises(ServiceError, match="member of this team"):
        make_task(assignee_id=people.y_admin.pk)
    with pytest.raises(ServiceError, match="Guests cannot be assigned"):
        make_task(assignee_id=people.team_guest.pk)
    with pytest.raises(ServiceError, match="not valid"):
        make_task(assignee_id="abc")
    assert _counts(people) == before
    task = make_task()
    with pytest.raises(ServiceError, match="member of this team"):
        _update(task, people.team_admin, assignee_id=people.y_admin.pk)


def test_custom_field_values_are_validated_by_type(people, make_task) -> None:
    with acting(people.team_admin):
        services.custom_field_save(
            actor=people.team_admin,
            team_id=people.x.id,
            key="estimate",
            label="Estimate",
            field_type="number",
            required=True,
        )
        services.custom_field_save(
            actor=people.team_admin, team_id=people.x.id, key="ship", label="Ship date", field_type="date"
        )
        services.custom_field_save(
            actor=people.team_admin,
            team_id=people.x.id,
            key="area",
            label="Area",
            field_type="choice",
            choices="web\ndb",
        )
        services.custom_field_save(
            actor=people.team_admin, team_id=people.x.id, key="note", label="Note", field_type="text"
        )
    before = _counts(people)
    bad = [
        ({"estimate": "lots"}, "cf_estimate"),
        ({"estimate": "1", "ship": "31/02/2026"}, "cf_ship"),
        ({"estimate": "1", "area": "mobile"}, "cf_area"),
        ({"estimate": "nan"}, "cf_estimate"),
        ({}, "cf_estimate"),  # required
        ({"estimate": "1", "colour": "red"}, "cf_colour"),  # not a field of this team
    ]
    for values, key in bad:
        with pytest.raises(ServiceError) as exc:
            make_task(custom_fields=values)
        assert key in exc.value.errors, (values, exc.value.errors)
    assert _counts(people) == before
    task = make_task(custom_fields={"estimate": "2.5", "ship": "2026-03-01", "area": "db", "note": " hi "})
    with acting(people.team_admin):
        payload = OutboxEvent.objects.get(aggregate_id=str(task.id)).payload
    assert payload["custom_fields"] == {"estimate": 2.5, "ship": "2026-03-01", "area": "db", "note": "hi"}


def test_custom_field_definitions_are_for_team_admins(people) -> None:
    with acting(people.team_member), pytest.raises(PermissionDenied):
        services.custom_field_save(actor=people.team_member, team_id=people.x.id, key="k", label="K", field_type="text")
    with acting(people.y_admin), pytest.raises(NotFound):
        services.custom_field_save(actor=people.y_admin, team_id=people.x.id, key="k", label="K", field_type="text")
    with acting(people.team_admin), pytest.raises(ServiceError) as exc:
        services.custom_field_save(
            actor=people.team_admin, team_id=people.x.id, key="k", label="K", field_type="choice"
        )
    assert "choices" in exc.value.errors


def test_bad_fields_are_reported_together(people, make_task) -> None:
    with pytest.raises(ServiceError) as exc:
        make_task(title="  ", status="later", priority="whenever")
    assert set(exc.value.errors) == {"title", "status", "priority"}
    with pytest.raises(ServiceError, match="Invalid tag"):
        make_task(tags="ok, <script>")


def test_update_keeps_attachments_and_records_the_new_full_state(people, make_task) -> None:
    task = make_task(description="v1", tags="a")
    from django.core.files.uploadedfile import SimpleUploadedFile

    with acting(people.team_admin):
        services.task_attachment_add(
            actor=people.team_admin, task_id=task.id, upload=SimpleUploadedFile("notes.txt", b"plain words\n")
        )
    _update(task, people.team_admin, description="v2", tags=["b"], expected_version=2)
    relay_sweep()
    doc = documents_collection(TaskDetail).find_one({"_id": str(task.id)})
    assert doc["version"] == 3 and doc["description"] == "v2" and doc["tags"] == ["b"]
    assert [a["name"] for a in doc["attachments"]] == ["notes.txt"]


def test_delete_leaves_a_versioned_tombstone_and_removes_comments(people, make_task) -> None:
    task = make_task(description="doomed")
    relay_sweep()
    with acting(people.team_member):
        services.comment_create(actor=people.team_member, task_id=task.id, body="bye")
    with acting(people.team_admin):
        services.task_delete(actor=people.team_admin, task_id=task.id)
        assert not Task.objects.filter(id=task.id).exists()
    relay_sweep()
    doc = documents_collection(TaskDetail).find_one({"_id": str(task.id)})
    assert doc["deleted"] and doc["version"] == 2 and doc["description"] == ""
    assert documents_collection(TaskComment).count_documents({"task_id": str(task.id)}) == 0
    assert TaskSearch.objects.get(task_id=task.id).deleted is True


def test_replayed_and_out_of_order_events_change_nothing(people, make_task) -> None:
    from tasks.sync import task_apply

    task = make_task(description="v1")
    _update(task, people.team_admin, description="v2")
    with acting(people.team_admin):
        first, second = OutboxEvent.objects.filter(aggregate_id=str(task.id)).order_by("version")
    task_apply(second)
    task_apply(first)  # older, arrives late
    task_apply(second)  # replay
    doc = documents_collection(TaskDetail).find_one({"_id": str(task.id)})
    assert (doc["version"], doc["description"]) == (2, "v2")
    assert TaskSearch.objects.get(task_id=task.id).body == "v2"


def test_detail_state_comes_from_the_outbox_until_the_relay_applies_it(people, make_task, docserver) -> None:
    task = make_task(description="from the outbox")
    docserver.stop()
    try:
        with acting(people.team_admin):
            assert task_detail_current(task)["description"] == "from the outbox"
    finally:
        docserver.start()


def test_due_dates_are_stored_in_utc(people, make_task) -> None:
    task = make_task(due_at=dt.datetime(2026, 5, 1, 9, 30))
    with acting(people.team_admin), connection.cursor() as cursor:
        cursor.execute("SELECT due_at AT TIME ZONE 'UTC' FROM tasks_task WHERE id = %s", [task.id])
        assert cursor.fetchone()[0] == dt.datetime(2026, 5, 1, 9, 30)


def test_task_refusals_are_the_shared_service_errors(people) -> None:
    """Callers outside the tasks app catch taskforge.errors, as for every other app."""
    import uuid

    with acting(people.team_member), pytest.raises(NotFound) as refused:
        services.comment_delete(actor=people.team_member, task_id=uuid.uuid4(), comment_id="none")
    assert refused.value.status == 404 and isinstance(refused.value, ServiceError)
