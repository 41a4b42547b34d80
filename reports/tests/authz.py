"""Authorization-matrix entries of the reports (reports/urls.py, namespace
"reports") and the admin System page (format: taskforge/testing/authz.py). The platform
pages of taskforge/urls.py (home, healthz, readyz, metrics) are in audit/tests/authz.py.

The revenue, resort and seat reports (and their CSVs) belong to reports readers. The task
flow report shows the people of a team the teams they hold task.view in (site admins: every
team); asking for another team is a 404, and people in no team (travellers, capability
holders other than site admins) do not have it. The reports index is for either. The
refresh button and the System page are for site admins. Anyone else signed in gets 404;
anonymous visitors are sent to sign in.
"""

from __future__ import annotations

from typing import Any

from taskforge.testing.authz import Route, World, capability, everyone, only

IN_X = ("team_guest", "team_member", "team_admin")


def _export(w: World) -> int:
    """A CSV export answers 503 (with a message) while the star schema is not built; the
    matrix runs on a test database where the ETL may not have run."""
    from reports.selectors import StarUnavailable, etl_last_runs

    try:
        etl_last_runs()
    except StarUnavailable:
        return 503
    return 200


def _team_x(w: World) -> dict[str, Any]:
    return {"team": w.teams["x"].id}


def _team_y(w: World) -> dict[str, Any]:
    return {"team": w.teams["y"].id}


MATRIX: dict[str, Route | list[Route]] = {
    "reports:index": Route(GET=only(200, *IN_X, "reports_reader", "site_admin"), POST=everyone(405)),
    "reports:refresh": Route(GET=everyone(405), POST=capability("site_admin", 302)),
    "reports:revenue": Route(
        kwargs=lambda w: {"period_name": "monthly"}, GET=capability("reports_reader", 200), POST=everyone(405)
    ),
    "reports:revenue_csv": Route(kwargs=lambda w: {"period_name": "daily"}, GET=capability("reports_reader", _export)),
    "reports:resorts": Route(GET=capability("reports_reader", 200)),
    "reports:resorts_csv": Route(GET=capability("reports_reader", _export)),
    "reports:seats": Route(GET=capability("reports_reader", 200)),
    "reports:seats_csv": Route(GET=capability("reports_reader", _export)),
    # Team x's flow: its people and the site admin; team y's: the site admin only.
    "reports:tasks": [
        Route(query=_team_x, GET=only(200, *IN_X, "site_admin")),
        Route(label="team y", query=_team_y, GET=only(200, "site_admin")),
    ],
    "reports:tasks_csv": [
        Route(query=_team_x, GET=only(_export, *IN_X, "site_admin")),
        Route(label="team y", query=_team_y, GET=only(_export, "site_admin")),
    ],
    "reports:system": Route(GET=capability("site_admin", 200), POST=everyone(405)),
}
