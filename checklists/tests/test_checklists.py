"""Departure checklists: the template (catalogue editors only), tasks made once at a
departure's first confirmed booking (through the outbox, idempotent), status copies kept in
step, open tasks closed with a comment when the departure is cancelled."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from bookings import services as booking_services
from bookings.models import Booking
from bookings.services import departures
from checklists import services
from checklists.models import ChecklistTask, DepartureChecklist
from sync.models import OutboxEvent
from sync.relay import relay_sweep
from taskforge.dbcontext import context_for_system, db_context
from taskforge.errors import NotFound, ServiceError
from taskforge.testing.personas import acting
from tasks.models import Task, TaskComment, TaskStatus
from tasks.services import task_move


def _book(user, trip, travellers: int = 1) -> Booking:
    with acting(user):
        return booking_services.booking_create(
            actor=user,
            trip_code=trip.code,
            travel_date=trip.start,
            travellers=travellers,
            idempotency_key=uuid.uuid4(),
            expected_total_minor=trip.price_minor * travellers,
        )[0]


def _confirm(desk, booking: Booking) -> Booking:
    with acting(desk):
        return booking_services.booking_confirm(actor=desk, booking_id=booking.pk)


def _system():
    return db_context(context_for_system("test"))


def _checklist_tasks(departure_id: int) -> list[ChecklistTask]:
    with _system():
        return list(ChecklistTask.objects.filter(departure_id=departure_id).order_by("due_date"))


@pytest.mark.django_db
def test_only_catalogue_editors_define_the_template(checklist_trip, booking_desk, traveller, catalogue_editor, ops):
    for person in (booking_desk, traveller):
        with acting(person), pytest.raises(NotFound):
            services.checklist_item_add(
                actor=person, trip_code=checklist_trip.code, title="x", team_id=ops["team"].pk, offset_days=0
            )
    with acting(catalogue_editor):
        with pytest.raises(ServiceError, match="offset"):
            services.checklist_item_add(
                actor=catalogue_editor,
                trip_code=checklist_trip.code,
                title="x",
                team_id=ops["team"].pk,
                offset_days=999,
            )
        with pytest.raises(ServiceError, match="title"):
            services.checklist_item_add(
                actor=catalogue_editor, trip_code=checklist_trip.code, title=" ", team_id=ops["team"].pk, offset_days=0
            )
        with pytest.raises(ServiceError, match="teams"):
            services.checklist_item_add(
                actor=catalogue_editor, trip_code=checklist_trip.code, title="x", team_id=10**9, offset_days=0
            )


@pytest.mark.django_db
def test_first_confirmation_makes_the_tasks_once(checklist_trip, traveller, make_user, booking_desk, ops):
    first = _book(traveller, checklist_trip)
    second = _book(make_user("traveller"), checklist_trip)
    assert _checklist_tasks(first.departure_id) == []  # pending bookings start nothing
    _confirm(booking_desk, first)
    relay_sweep()
    links = _checklist_tasks(first.departure_id)
    assert [link.title for link in links] == ["Confirm the hotel", "Brief the guide"]
    with _system():
        tasks = {t.id: t for t in Task.objects.filter(id__in=[link.task_id for link in links])}
    for link, offset in zip(links, (-30, -1), strict=True):
        task = tasks[link.task_id]
        assert task.team_id == ops["team"].pk and task.status == TaskStatus.TODO
        assert task.due_at.date() == checklist_trip.start + dt.timedelta(days=offset) == link.due_date
    # A second confirmed booking of the same departure makes no second set.
    _confirm(booking_desk, second)
    relay_sweep()
    with _system():
        assert OutboxEvent.objects.filter(aggregate_type=services.AGGREGATE).count() == 1
    assert len(_checklist_tasks(first.departure_id)) == 2


@pytest.mark.django_db
def test_the_same_confirmation_applied_twice_gives_one_set(checklist_trip, traveller, booking_desk):
    booking = _confirm(booking_desk, _book(traveller, checklist_trip))
    relay_sweep()
    with _system():
        event = OutboxEvent.objects.get(aggregate_type=services.AGGREGATE)
        # The relay delivers at least once: the event applied again (and the start replayed) changes nothing.
        assert services.checklist_tasks_make(event.payload) == 0
        assert services.checklist_start(departure_id=booking.departure_id) is False
        assert Task.objects.filter(title__in=["Confirm the hotel", "Brief the guide"]).count() == 2
    assert len(_checklist_tasks(booking.departure_id)) == 2


@pytest.mark.django_db
def test_a_departure_without_a_template_starts_an_empty_checklist(make_trip, traveller, booking_desk):
    trip = make_trip(seats=4)
    booking = _confirm(booking_desk, _book(traveller, trip))
    relay_sweep()
    with _system():
        assert DepartureChecklist.objects.filter(departure_id=booking.departure_id).exists()
        assert not OutboxEvent.objects.filter(aggregate_type=services.AGGREGATE).exists()


@pytest.mark.django_db
def test_moving_a_task_updates_the_progress_copy(checklist_trip, traveller, booking_desk, ops):
    booking = _confirm(booking_desk, _book(traveller, checklist_trip))
    relay_sweep()
    link = _checklist_tasks(booking.departure_id)[0]
    member = ops["member"]
    with acting(member):
        task = Task.objects.get(id=link.task_id)
        task_move(actor=member, task_id=task.id, status=TaskStatus.DONE, expected_version=task.version)
    with _system():
        assert ChecklistTask.objects.get(pk=link.pk).status == TaskStatus.DONE


@pytest.mark.django_db
def test_cancelling_the_departure_closes_its_open_tasks_with_a_comment(
    checklist_trip, traveller, booking_desk, catalogue_editor, ops
):
    booking = _confirm(booking_desk, _book(traveller, checklist_trip))
    relay_sweep()
    hotel, guide = _checklist_tasks(booking.departure_id)
    member = ops["member"]
    with acting(member):  # one task already done by ops: it stays as it is, without a comment
        task = Task.objects.get(id=hotel.task_id)
        task_move(actor=member, task_id=task.id, status=TaskStatus.DONE, expected_version=task.version)
    with acting(catalogue_editor):
        departures.departure_cancel(actor=catalogue_editor, departure_id=booking.departure_id, reason="Volcano erupted")
    relay_sweep()
    with _system():
        closed = Task.objects.get(id=guide.task_id)
        assert closed.status == TaskStatus.DONE
        assert ChecklistTask.objects.get(pk=guide.pk).status == TaskStatus.DONE
    comments = list(TaskComment.objects.filter(task_id=str(guide.task_id)))
    assert len(comments) == 1
    assert "departure" in comments[0].body and "cancelled" in comments[0].body
    assert "Volcano erupted" in comments[0].body and comments[0].author_id is None
    assert not TaskComment.objects.filter(task_id=str(hotel.task_id)).exists()
    # Applying the cancellation again closes nothing more and adds no comment.
    with _system():
        event = OutboxEvent.objects.get(aggregate_type=services.AGGREGATE, event_type=services.CANCELLED)
        assert services.checklist_tasks_close(event.payload) == 0
    assert TaskComment.objects.filter(task_id=str(guide.task_id)).count() == 1


@pytest.mark.django_db
def test_a_cancellation_applied_before_the_start_makes_no_tasks(checklist_trip, traveller, booking_desk, settings):
    settings.OUTBOX_FAST_PATH = "off"
    booking = _confirm(booking_desk, _book(traveller, checklist_trip))
    with acting(booking_desk):
        departures.departure_cancel(actor=booking_desk, departure_id=booking.departure_id, reason="Strike")
    with _system():
        cancel = OutboxEvent.objects.get(aggregate_type=services.AGGREGATE, event_type=services.CANCELLED)
        start = OutboxEvent.objects.get(aggregate_type=services.AGGREGATE, event_type=services.STARTED)
        assert services.checklist_tasks_close(cancel.payload) == 0
        assert services.checklist_tasks_make(start.payload) == 0
    assert _checklist_tasks(booking.departure_id) == []
