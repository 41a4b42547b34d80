"""Reads of departure checklists, scoped to who may see them.

The checklist page of a departure is for catalogue editors, the booking desk, and the
members of a team that has one of its tasks (ops who follow the link on a task page).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.db.models import Count, Q
from django.urls import reverse

from accounts.models import Capability, Membership, Team
from accounts.permissions import capability_has
from bookings.hooks import StaffLink
from bookings.models import Departure
from checklists.models import ChecklistItem, ChecklistTask, DepartureChecklist
from tasks.extensions import TaskLink
from tasks.models import Task, TaskStatus


@dataclass(frozen=True)
class Progress:
    """How far a departure's checklist has gone."""

    done: int
    total: int

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 0


@dataclass
class DepartureChecklistPage:
    departure: Departure
    checklist: DepartureChecklist | None
    progress: Progress
    tasks: list[ChecklistTask]
    visible_task_ids: set[Any] = field(default_factory=set)
    can_see_bookings: bool = False

    @property
    def bookings_url(self) -> str:
        return bookings_url(self.departure)


def is_staff(viewer: Any) -> bool:
    return capability_has(viewer, Capability.CATALOGUE_EDITOR) or capability_has(viewer, Capability.BOOKING_DESK)


def bookings_url(departure: Departure) -> str:
    """The booking desk's list, filtered to the departure's trip and date."""
    date = departure.date.isoformat()
    query = urlencode({"trip": departure.trip.code, "travel_from": date, "travel_to": date})
    return f"{reverse('bookings:staff_bookings')}?{query}"


def checklist_items(trip_code: str) -> list[ChecklistItem]:
    return list(ChecklistItem.objects.filter(trip__code=trip_code).select_related("team").order_by("offset_days", "id"))


def teams_for_items() -> list[Team]:
    return list(Team.objects.order_by("name", "id"))


def progress_of(departure_ids: list[int]) -> dict[int, Progress]:
    """Done / total of each departure's live checklist tasks (one query)."""
    rows = (
        ChecklistTask.objects.filter(departure_id__in=departure_ids, deleted=False)
        .values("departure_id")
        .annotate(total=Count("id"), done=Count("id", filter=Q(status=TaskStatus.DONE)))
    )
    found = {r["departure_id"]: Progress(r["done"], r["total"]) for r in rows}
    return {i: found.get(i, Progress(0, 0)) for i in departure_ids}


def _in_a_team_of(viewer: Any, departure_id: int) -> bool:
    teams = ChecklistTask.objects.filter(departure_id=departure_id).values("team_id")
    return Membership.objects.filter(user_id=viewer.pk, team_id__in=teams).exists()


def departure_checklist_page(viewer: Any, departure_id: int) -> DepartureChecklistPage | None:
    """The checklist of a departure for staff and for the teams doing it; None (=> 404) for others."""
    departure = Departure.objects.select_related("trip").filter(pk=departure_id).first()
    if departure is None or not (is_staff(viewer) or _in_a_team_of(viewer, departure_id)):
        return None
    tasks = list(ChecklistTask.objects.filter(departure=departure, deleted=False).order_by("due_date", "id"))
    # Row-level security decides which of the tasks this person may open.
    visible = set(Task.objects.filter(id__in=[t.task_id for t in tasks]).values_list("id", flat=True))
    return DepartureChecklistPage(
        departure=departure,
        checklist=DepartureChecklist.objects.filter(departure=departure).first(),
        progress=progress_of([departure.pk])[departure.pk],
        tasks=tasks,
        visible_task_ids=visible,
        can_see_bookings=capability_has(viewer, Capability.BOOKING_DESK),
    )


# --- the registries of the lower apps ----------------------------------------------------


def departure_staff_links(viewer: Any, departure_ids: list[int]) -> dict[int, list[StaffLink]]:
    """The staff departures page: each departure's checklist progress, linking to its page."""
    out: dict[int, list[StaffLink]] = {}
    for departure_id, progress in progress_of(departure_ids).items():
        label = f"Checklist {progress.done}/{progress.total} done" if progress.total else "Checklist"
        out[departure_id] = [StaffLink(label, reverse("checklists:departure", kwargs={"departure_id": departure_id}))]
    return out


def task_page_links(viewer: Any, task: Task) -> list[TaskLink]:
    """A checklist task's page links to its departure and, for the booking desk, its bookings."""
    link = ChecklistTask.objects.select_related("departure__trip").filter(task_id=task.id).first()
    if link is None:
        return []
    departure = link.departure
    links = [
        TaskLink(
            f"Departure {departure.trip.code} on {departure.date:%d %b %Y}",
            reverse("checklists:departure", kwargs={"departure_id": departure.pk}),
        )
    ]
    if capability_has(viewer, Capability.BOOKING_DESK):
        links.append(TaskLink("Its bookings", bookings_url(departure)))
    return links
