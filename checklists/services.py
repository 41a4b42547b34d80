"""Writes of departure checklists.

* Catalogue editors add and remove the items of a trip's template.
* `checklist_on_business_event` (a business-event subscriber, inside the confirming
  transaction): a departure's first confirmed booking inserts its `DepartureChecklist`
  row (INSERT ... ON CONFLICT DO NOTHING, so of two confirmations only one inserts) and
  records one outbox event carrying the items at that moment; the handler
  (checklists/sync.py) makes the tasks. Task events keep the status copies in step.
* `checklist_on_departure_cancelled` (inside `departure_cancel`'s transaction): marks the
  checklist cancelled and records the event whose handler closes its open tasks.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Capability, Team
from bookings.models import Departure, Trip
from bookings.services.common import capability_require
from checklists.models import OFFSET_MAX, OFFSET_MIN, ChecklistItem, ChecklistTask, DepartureChecklist
from sync.events import BusinessEvent
from sync.outbox import outbox_record
from taskforge.errors import NotFound, ServiceError
from tasks.models import TaskStatus
from tasks.services.system import task_close_system, task_create_system

AGGREGATE = "departure_checklist"
STARTED, CANCELLED = "checklist.started", "checklist.cancelled"
VERSION_STARTED, VERSION_CANCELLED = 1, 2
TITLE_MAX, NOTES_MAX = 200, 2000


# --- the template ------------------------------------------------------------------------


def checklist_item_add(
    *, actor: Any, trip_code: str, title: str, team_id: Any, offset_days: Any, notes: str = ""
) -> ChecklistItem:
    """Add an item to a trip's checklist template (catalogue editors)."""
    capability_require(actor, Capability.CATALOGUE_EDITOR)
    title = (title or "").strip()
    notes = (notes or "").strip()
    if not title:
        raise ServiceError("Give the item a title.", field="title")
    if len(title) > TITLE_MAX:
        raise ServiceError(f"Keep the title to {TITLE_MAX} characters.", field="title")
    if len(notes) > NOTES_MAX:
        raise ServiceError(f"Keep the notes to {NOTES_MAX} characters.", field="notes")
    if isinstance(offset_days, bool) or not isinstance(offset_days, int) or not OFFSET_MIN <= offset_days <= OFFSET_MAX:
        raise ServiceError(
            f"The offset is a whole number of days from {OFFSET_MIN} to {OFFSET_MAX}.", field="offset_days"
        )
    with transaction.atomic():
        trip = Trip.objects.filter(code=trip_code).first()
        if trip is None:
            raise NotFound("No such trip.")
        team = Team.objects.filter(pk=team_id).first() if isinstance(team_id, int) else None
        if team is None:
            raise ServiceError("Choose one of the teams.", field="team")
        return ChecklistItem.objects.create(trip=trip, title=title, team=team, offset_days=offset_days, notes=notes)


def checklist_item_delete(*, actor: Any, item_id: int) -> str:
    """Remove an item from the template (tasks already made stay). Returns the trip code."""
    capability_require(actor, Capability.CATALOGUE_EDITOR)
    with transaction.atomic():
        item = ChecklistItem.objects.select_for_update().select_related("trip").filter(pk=item_id).first()
        if item is None:
            raise NotFound("No such checklist item.")
        code = item.trip.code
        item.delete()
    return code


# --- starting and cancelling a departure's checklist -------------------------------------


def due_at(date: dt.date, offset_days: int) -> dt.datetime:
    """A checklist task is due at 09:00 (site time) on the departure date plus the offset."""
    day = date + dt.timedelta(days=offset_days)
    return timezone.make_aware(dt.datetime.combine(day, dt.time(9, 0)))


def _start_once(departure_id: int) -> bool:
    """Insert the departure's checklist row unless it exists; True if this call inserted it.
    Concurrent confirmations of the same departure: the second waits for the first's commit,
    then inserts nothing."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {DepartureChecklist._meta.db_table} (departure_id, started_at) VALUES (%s, now()) "
            "ON CONFLICT (departure_id) DO NOTHING RETURNING id",
            [departure_id],
        )
        return cursor.fetchone() is not None


def checklist_start(*, departure_id: int) -> bool:
    """A booking of the departure was confirmed: the first time, record the event that makes
    its checklist's tasks. In the caller's transaction. True if the checklist started now."""
    if not _start_once(departure_id):
        return False
    departure = Departure.objects.get(pk=departure_id)
    items = [
        {"item_id": i.pk, "title": i.title, "team_id": i.team_id, "offset_days": i.offset_days, "notes": i.notes}
        for i in ChecklistItem.objects.filter(trip_id=departure.trip_id).order_by("offset_days", "id")
    ]
    if not items:  # started with nothing to do: items added later are for departures still to start
        return True
    outbox_record(
        aggregate_type=AGGREGATE,
        aggregate_id=str(departure_id),
        version=VERSION_STARTED,
        event_type=STARTED,
        payload={"departure_id": departure_id, "date": departure.date.isoformat(), "items": items},
    )
    return True


def checklist_on_business_event(event: BusinessEvent) -> None:
    """Business-event subscriber: confirmations start checklists; task changes keep the
    status copies in step. Runs inside the change's transaction."""
    if event.type == "booking.confirmed":
        checklist_start(departure_id=int(event.data["departure_id"]))
    elif event.type in ("task.moved", "task.updated"):
        ChecklistTask.objects.filter(task_id=event.data["id"]).update(status=event.data["status"])
    elif event.type == "task.deleted":
        ChecklistTask.objects.filter(task_id=event.data["id"]).update(deleted=True)


def checklist_on_departure_cancelled(departure: Departure) -> None:
    """The departure was cancelled: its started checklist is cancelled too, and an event
    closes its open tasks with a comment saying why. In `departure_cancel`'s transaction."""
    updated = DepartureChecklist.objects.filter(departure_id=departure.pk, cancelled_at__isnull=True).update(
        cancelled_at=timezone.now()
    )
    if not updated:
        return
    outbox_record(
        aggregate_type=AGGREGATE,
        aggregate_id=str(departure.pk),
        version=VERSION_CANCELLED,
        event_type=CANCELLED,
        payload={"departure_id": departure.pk, "date": departure.date.isoformat(), "reason": departure.cancel_reason},
    )


# --- applying the events (the outbox handler) -------------------------------------------


def checklist_tasks_make(payload: dict[str, Any]) -> int:
    """Make the task of every item that has none yet for this departure (idempotent: applying
    the same event twice makes one set). Nothing once the checklist is cancelled. Returns the
    number of tasks made."""
    departure_id = int(payload["departure_id"])
    made = 0
    with transaction.atomic():
        checklist = DepartureChecklist.objects.select_for_update().filter(departure_id=departure_id).first()
        if checklist is None or checklist.cancelled_at is not None:
            return 0
        date = dt.date.fromisoformat(payload["date"])
        done = set(ChecklistTask.objects.filter(departure_id=departure_id).values_list("item_ref", flat=True))
        for item in payload["items"]:
            if item["item_id"] in done:
                continue
            due = due_at(date, int(item["offset_days"]))
            task = task_create_system(
                team_id=int(item["team_id"]),
                title=item["title"],
                description=_description(item["notes"], date),
                due_at=due,
            )
            ChecklistTask.objects.create(
                departure_id=departure_id,
                item_ref=item["item_id"],
                task=task,
                team_id=task.team_id,
                title=task.title,
                due_date=due.date(),
                status=task.status,
            )
            made += 1
    return made


def _description(notes: str, date: dt.date) -> str:
    head = f"Checklist item for the departure of {date:%d %b %Y}."
    return f"{head}\n\n{notes}" if notes else head


def checklist_tasks_close(payload: dict[str, Any]) -> int:
    """Close the departure's open checklist tasks with a comment saying why (idempotent: a
    closed task is left alone). Returns the number closed."""
    departure_id = int(payload["departure_id"])
    reason = payload.get("reason") or ""
    comment = f"Closed automatically: the departure of {payload['date']} was cancelled." + (
        f" Reason: {reason}" if reason else ""
    )
    closed = 0
    with transaction.atomic():
        links = ChecklistTask.objects.select_for_update().filter(departure_id=departure_id, deleted=False)
        for link in links.exclude(status=TaskStatus.DONE):
            if task_close_system(task_id=link.task_id, comment=comment):
                closed += 1
            # The task's own event updates the copy too; set it here for a task already gone.
            ChecklistTask.objects.filter(pk=link.pk).update(status=TaskStatus.DONE)
    return closed
