"""The board's columns and the task lists (filters, sorting, pages, "my tasks")."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Case, Count, F, IntegerField, QuerySet, Value, When, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from accounts.models import Team
from tasks.models import PRIORITY_RANK, Task, TaskStatus
from tasks.selectors.teams import teams_for_user

BOARD_COLUMN_LIMIT = 25
LIST_PAGE_SIZE = 25
STATUS_ORDER = {s: i for i, s in enumerate(TaskStatus.values)}

PRIORITY_RANK_EXPR = Case(
    *[When(priority=p, then=Value(rank)) for p, rank in PRIORITY_RANK.items()],
    default=Value(0),
    output_field=IntegerField(),
)
STATUS_RANK_EXPR = Case(
    *[When(status=s, then=Value(rank)) for s, rank in STATUS_ORDER.items()],
    default=Value(0),
    output_field=IntegerField(),
)
# Board and list default order: most urgent first, then the nearest due date, then newest.
DEFAULT_ORDER = [F("prank").desc(), F("due_at").asc(nulls_last=True), F("created_at").desc()]

# --- board ----------------------------------------------------------------------------------------


@dataclass
class Column:
    status: str
    label: str
    count: int
    cards: list[Task] = field(default_factory=list)

    @property
    def hidden(self) -> int:
        return max(self.count - len(self.cards), 0)


def board_columns(
    team_id: int,
    *,
    statuses: list[str] | None = None,
    limit: int = BOARD_COLUMN_LIMIT,
    filters: dict[str, Any] | None = None,
    user: Any = None,
) -> list[Column]:
    """Columns by status with their full counts and at most `limit` cards each (two queries),
    of the tasks that pass the board's `filters` (forms.BoardFilterForm, validated)."""
    wanted = statuses or list(TaskStatus.values)
    base = Task.objects.filter(team_id=team_id, status__in=wanted)
    if filters:
        base = tasks_filtered(base, filters, user=user)
    counts = dict(base.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
    cards = (
        base.select_related("assignee")
        .annotate(
            prank=PRIORITY_RANK_EXPR,
            row=Window(RowNumber(), partition_by=[F("status")], order_by=DEFAULT_ORDER),
        )
        .filter(row__lte=limit)
        .order_by("status", "row")
    )
    by_status: dict[str, list[Task]] = {s: [] for s in wanted}
    for task in cards:
        by_status[task.status].append(task)
    labels = dict(TaskStatus.choices)
    return [Column(status=s, label=str(labels[s]), count=counts.get(s, 0), cards=by_status[s]) for s in wanted]


# --- list, my tasks -------------------------------------------------------------------------------

SORTS: dict[str, list[Any]] = {
    "priority": [F("prank").desc(), F("due_at").asc(nulls_last=True), F("created_at").desc()],
    "-priority": [F("prank").asc(), F("due_at").asc(nulls_last=True), F("created_at").desc()],
    "due": [F("due_at").asc(nulls_last=True), F("created_at").desc()],
    "-due": [F("due_at").desc(nulls_last=True), F("created_at").desc()],
    "created": [F("created_at").asc()],
    "-created": [F("created_at").desc()],
    "updated": [F("updated_at").asc()],
    "-updated": [F("updated_at").desc()],
    "title": [F("title").asc(), F("created_at").desc()],
    "status": [F("srank").asc(), F("prank").desc(), F("created_at").desc()],
}
SORT_LABELS = {
    "priority": "Priority (urgent first)",
    "-priority": "Priority (low first)",
    "due": "Due date (soonest)",
    "-due": "Due date (latest)",
    "-created": "Newest",
    "created": "Oldest",
    "-updated": "Recently updated",
    "updated": "Least recently updated",
    "title": "Title",
    "status": "Status",
}


def tasks_filtered(
    base: QuerySet[Task], filters: dict[str, Any], *, user: Any, now: dt.datetime | None = None
) -> QuerySet[Task]:
    """Apply the list filters (already validated by forms.TaskFilterForm)."""
    now = now or timezone.now()
    qs = base
    if filters.get("status"):
        qs = qs.filter(status__in=filters["status"])
    if filters.get("priority"):
        qs = qs.filter(priority__in=filters["priority"])
    assignee = filters.get("assignee") or ""
    if assignee == "me":
        qs = qs.filter(assignee_id=user.pk)
    elif assignee == "none":
        qs = qs.filter(assignee__isnull=True)
    elif assignee:
        qs = qs.filter(assignee_id=int(assignee))
    if filters.get("tag"):
        qs = qs.filter(search__tags__contains=[filters["tag"]])
    # Days are the person's days (the active time zone), from midnight to midnight.
    if filters.get("due_from"):
        qs = qs.filter(due_at__gte=timezone.make_aware(dt.datetime.combine(filters["due_from"], dt.time.min)))
    if filters.get("due_to"):
        end = timezone.make_aware(dt.datetime.combine(filters["due_to"] + dt.timedelta(days=1), dt.time.min))
        qs = qs.filter(due_at__lt=end)
    if filters.get("overdue") or filters.get("due") == "overdue":
        qs = qs.filter(due_at__lt=now).exclude(status=TaskStatus.DONE)
    elif filters.get("due") == "week":
        # This calendar week (Monday to Sunday) where the person is (the active time zone).
        today = timezone.localtime(now).date()
        start = timezone.make_aware(dt.datetime.combine(today - dt.timedelta(days=today.weekday()), dt.time.min))
        qs = qs.filter(due_at__gte=start, due_at__lt=start + dt.timedelta(days=7))
    elif filters.get("due") == "none":
        qs = qs.filter(due_at__isnull=True)
    return qs


def task_matches(task_id: Any, filters: dict[str, Any], *, user: Any) -> bool:
    """Whether the task passes these filters (a quick add on a filtered board says when not)."""
    return not filters or tasks_filtered(Task.objects.filter(id=task_id), filters, user=user).exists()


def task_page(qs: QuerySet[Task], *, sort: str, page: Any, per_page: int = LIST_PAGE_SIZE) -> Page:
    """One page of tasks (a count query and a page query, whatever the number of tasks)."""
    ordered = (
        qs.select_related("assignee", "search")
        .annotate(prank=PRIORITY_RANK_EXPR, srank=STATUS_RANK_EXPR)
        .order_by(*SORTS.get(sort, SORTS["priority"]), "id")
    )
    return Paginator(ordered, per_page).get_page(page)


def team_tasks(team_id: int) -> QuerySet[Task]:
    return Task.objects.filter(team_id=team_id)


def my_tasks(user: Any, *, include_done: bool = False, teams: list[Team] | None = None) -> QuerySet[Task]:
    """Tasks assigned to the user, in teams where they may still see tasks."""
    team_ids = [t.id for t in (teams if teams is not None else teams_for_user(user))]
    qs = Task.objects.filter(assignee_id=user.pk, team_id__in=team_ids).select_related("team")
    if not include_done:
        qs = qs.exclude(status=TaskStatus.DONE)
    return qs
