"""The dashboards: the person's tasks across teams, and one team's."""

from __future__ import annotations

import time
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from taskforge.decorators import team_member_required
from tasks.charts import bar_chart, priority_chart, weekly_chart
from tasks.selectors.dashboard import dashboard_team as dashboard_team_numbers
from tasks.selectors.dashboard import dashboard_user
from tasks.selectors.teams import team_for_user, teams_for_user
from tasks.views.common import team_context


def _charts(numbers: dict[str, Any]) -> dict[str, Any]:
    return {
        "status_chart": bar_chart(numbers["by_status"], title="Tasks by status"),
        "priority_chart": priority_chart(numbers["by_priority"], title="Open tasks by priority"),
        "weekly_chart": weekly_chart(numbers["weekly"], title="Created against done, per week (12 weeks)"),
        "group_chart": bar_chart(numbers["groups"][:10] or [("—", 0)], title=numbers["group_label"]),
    }


@team_member_required
@require_GET
def dashboard_me(request: HttpRequest) -> HttpResponse:
    started = time.perf_counter()
    numbers = dashboard_user(request.user)
    teams = teams_for_user(request.user)
    return render(
        request,
        "tasks/dashboard.html",
        {
            "numbers": numbers,
            **_charts(numbers),
            "teams": teams,
            "scope": "Your tasks",
            "elapsed_ms": round((time.perf_counter() - started) * 1000, 1),
        },
    )


@team_member_required
@require_GET
def dashboard_team(request: HttpRequest, team_id: int) -> HttpResponse:
    team = team_for_user(request.user, team_id)
    numbers = dashboard_team_numbers(team.id)
    return render(
        request,
        "tasks/dashboard.html",
        {
            **team_context(request, team),
            "numbers": numbers,
            **_charts(numbers),
            "scope": team.name,
        },
    )
