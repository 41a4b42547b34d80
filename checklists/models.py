"""Departure checklists (PostgreSQL).

* `ChecklistItem`: one line of a trip's checklist template, defined by catalogue editors:
  a title, the team whose board gets the task, an offset in days from the departure date
  (negative = before it) and optional notes.
* `DepartureChecklist`: a departure's checklist was started (its first confirmed booking)
  and, later, perhaps cancelled with the departure. Its one-per-departure row is what makes
  "created exactly once" hold: only the confirmation that inserts it records the outbox
  event that makes the tasks.
* `ChecklistTask`: one task made from one item for one departure (unique per departure and
  item, so applying the event twice makes no second task). It keeps a copy of the task's
  status (kept in step by the task business events) so progress and reports count without
  reading other teams' tasks through row-level security.

No row-level security: this is ops data of staff, not travellers' data; the pages check
capabilities and team membership. Audited by the triggers like every relational table.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from bookings.models import Departure, Trip
from tasks.models import Task, TaskStatus

OFFSET_MIN, OFFSET_MAX = -365, 365


class ChecklistItem(models.Model):
    """One item of a trip's checklist template (e.g. "confirm the hotel", 30 days before)."""

    trip = models.ForeignKey(Trip, on_delete=models.CASCADE, related_name="checklist_items")
    title = models.CharField(max_length=200)
    team = models.ForeignKey("accounts.Team", on_delete=models.PROTECT, related_name="checklist_items")
    offset_days = models.IntegerField(help_text="Days from the departure date the task is due (negative: before).")
    notes = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "checklists_item"
        ordering = ["offset_days", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(offset_days__gte=OFFSET_MIN) & Q(offset_days__lte=OFFSET_MAX),
                name="checklists_item_offset_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.trip_id}: {self.title}"


class DepartureChecklist(models.Model):
    """A departure's checklist: started at its first confirmed booking, cancelled with it."""

    departure = models.OneToOneField(Departure, on_delete=models.PROTECT, related_name="checklist")
    started_at = models.DateTimeField(default=timezone.now)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "checklists_departure"

    def __str__(self) -> str:
        return f"checklist of departure {self.departure_id}"


class ChecklistTask(models.Model):
    """The task made from one checklist item for one departure."""

    departure = models.ForeignKey(Departure, on_delete=models.PROTECT, related_name="checklist_tasks")
    # The item's id when the task was made (not a key: the item may since have been deleted).
    item_ref = models.BigIntegerField()
    # Not a database foreign key: the task may be deleted by its team (its row here stays,
    # with `deleted`), and the relay writes it without a person's row-level-security context.
    task = models.OneToOneField(Task, on_delete=models.DO_NOTHING, db_constraint=False, related_name="checklist_link")
    team_id = models.BigIntegerField()
    title = models.CharField(max_length=200)
    due_date = models.DateField()
    status = models.CharField(max_length=16, choices=TaskStatus.choices, default=TaskStatus.TODO)
    deleted = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "checklists_task"
        ordering = ["due_date", "id"]
        constraints = [
            models.UniqueConstraint(fields=["departure", "item_ref"], name="checklists_task_once_per_item"),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.departure_id})"

    @property
    def is_done(self) -> bool:
        return self.status == TaskStatus.DONE
