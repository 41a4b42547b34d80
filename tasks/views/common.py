"""What every team page of the tasks app shows about the team and the person's rights in it."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from accounts.permissions import permission_has


def team_context(request: HttpRequest, team: Any) -> dict[str, Any]:
    user = request.user
    return {
        "team": team,
        "can_create": permission_has(user, team.id, "task.create"),
        "can_manage": permission_has(user, team.id, "team.manage"),
    }
