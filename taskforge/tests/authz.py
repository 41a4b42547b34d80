"""Authorization-matrix entries of the reports (taskforge/reports/urls.py, namespace
"reports") and the admin System page (format: audit/authz.py). The platform pages of
taskforge/urls.py (home, healthz, readyz, metrics) are in audit/tests/authz.py.

Reports are for staff (and site admins); the refresh button and the System page for site
admins. Anyone else signed in gets 404, anonymous visitors are sent to sign in. The task
flow report shows a staff member the teams they hold task.view in (site admins: all
teams); asking for another team is a 404.
"""

from __future__ import annotations

from typing import Any

from audit.authz import Route, World, admin_only, everyone, statuses

LOGIN = 302


def _staff(ok: int = 200) -> dict[str, int]:
    return statuses(anon=LOGIN, traveller_a=404, traveller_b=404, staff_x=ok, staff_y=ok, admin=ok)


def _export(w: World) -> int:
    """A CSV export answers 503 (with a message) while the star schema is not built; the
    matrix runs on a test database where the ETL may not have run."""
    from taskforge.reports.selectors import StarUnavailable, etl_last_runs

    try:
        etl_last_runs()
    except StarUnavailable:
        return 503
    return 200


def _staff_export() -> dict[str, Any]:
    return statuses(anon=LOGIN, traveller_a=404, traveller_b=404, staff_x=_export, staff_y=_export, admin=_export)


def _team_x(w: World) -> dict[str, Any]:
    return {"team": w.teams["x"].id}


MATRIX: dict[str, Route] = {
    "reports:index": Route(GET=_staff(200), POST=everyone(405)),
    "reports:refresh": Route(GET=everyone(405), POST=admin_only(302)),
    "reports:revenue": Route(kwargs=lambda w: {"period_name": "monthly"}, GET=_staff(200), POST=everyone(405)),
    "reports:revenue_csv": Route(kwargs=lambda w: {"period_name": "daily"}, GET=_staff_export()),
    "reports:resorts": Route(GET=_staff(200)),
    "reports:resorts_csv": Route(GET=_staff_export()),
    "reports:seats": Route(GET=_staff(200)),
    "reports:seats_csv": Route(GET=_staff_export()),
    # Team x's flow: staff_x (member) and the site admin; staff_y is not in team x.
    "reports:tasks": Route(
        query=_team_x,
        GET=statuses(anon=LOGIN, traveller_a=404, traveller_b=404, staff_x=200, staff_y=404, admin=200),
    ),
    "reports:tasks_csv": Route(
        query=_team_x,
        GET=statuses(anon=LOGIN, traveller_a=404, traveller_b=404, staff_x=_export, staff_y=404, admin=_export),
    ),
    "reports:system": Route(GET=admin_only(200), POST=everyone(405)),
}
