"""The numbers of the dashboards (per team and per person), cached in Redis."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.cache import cache
from django.db.models import Count, QuerySet
from django.db.models.functions import TruncWeek
from django.utils import timezone

from tasks.caching import DASHBOARD_TTL, dashboard_team_key, dashboard_user_key
from tasks.models import Task, TaskPriority, TaskStatus
from tasks.selectors.teams import teams_for_user

WEEKS = 12


def _week_starts(now: dt.datetime) -> list[dt.date]:
    monday = (now - dt.timedelta(days=now.weekday())).date()
    return [monday - dt.timedelta(weeks=i) for i in range(WEEKS - 1, -1, -1)]


def _dashboard_numbers(qs: QuerySet[Task], *, now: dt.datetime, by: str) -> dict[str, Any]:
    weeks = _week_starts(now)
    start = dt.datetime.combine(weeks[0], dt.time.min, tzinfo=dt.UTC)
    status_counts = dict(qs.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
    open_qs = qs.exclude(status=TaskStatus.DONE)
    priority_counts = dict(open_qs.values_list("priority").annotate(n=Count("id")).values_list("priority", "n"))
    overdue = open_qs.filter(due_at__lt=now).count()
    created = dict(
        qs.filter(created_at__gte=start)
        .annotate(week=TruncWeek("created_at"))
        .values_list("week")
        .annotate(n=Count("id"))
        .values_list("week", "n")
    )
    done = dict(
        qs.filter(done_at__gte=start)
        .annotate(week=TruncWeek("done_at"))
        .values_list("week")
        .annotate(n=Count("id"))
        .values_list("week", "n")
    )
    created = {k.date(): v for k, v in created.items()}
    done = {k.date(): v for k, v in done.items()}
    if by == "assignee":
        rows = open_qs.values_list("assignee_id", "assignee__display_name", "assignee__email").annotate(n=Count("id"))
        groups = sorted(((name or email or "Unassigned", n) for _, name, email, n in rows), key=lambda x: (-x[1], x[0]))
    else:
        rows = open_qs.values_list("team__name").annotate(n=Count("id"))
        groups = sorted(((name, n) for name, n in rows), key=lambda x: (-x[1], x[0]))
    statuses = dict(TaskStatus.choices)
    priorities = dict(TaskPriority.choices)
    return {
        "by_status": [(str(statuses[s]), status_counts.get(s, 0)) for s in TaskStatus.values],
        "by_priority": [(str(priorities[p]), priority_counts.get(p, 0)) for p in reversed(TaskPriority.values)],
        "overdue": overdue,
        "total": sum(status_counts.values()),
        "open": sum(v for k, v in status_counts.items() if k != TaskStatus.DONE),
        "weekly": [(w, created.get(w, 0), done.get(w, 0)) for w in weeks],
        "groups": groups,
        "group_label": "Open tasks by assignee" if by == "assignee" else "Open tasks by team",
        "computed_at": now,
    }


def dashboard_team(team_id: int) -> dict[str, Any]:
    key = dashboard_team_key(team_id)
    numbers = cache.get(key)
    if numbers is None:
        numbers = _dashboard_numbers(Task.objects.filter(team_id=team_id), now=timezone.now(), by="assignee")
        cache.set(key, numbers, DASHBOARD_TTL)
    return numbers


def dashboard_user(user: Any) -> dict[str, Any]:
    key = dashboard_user_key(user.pk)
    numbers = cache.get(key)
    if numbers is None:
        team_ids = [t.id for t in teams_for_user(user)]
        qs = Task.objects.filter(assignee_id=user.pk, team_id__in=team_ids)
        numbers = _dashboard_numbers(qs, now=timezone.now(), by="team")
        cache.set(key, numbers, DASHBOARD_TTL)
    return numbers
