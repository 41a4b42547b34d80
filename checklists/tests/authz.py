"""Authorization-matrix entries of the checklists app (format: taskforge/testing/authz.py).

A trip's checklist template belongs to catalogue editors (404 for everyone else). A
departure's checklist page is for catalogue editors, the booking desk and the members of
a team that has one of its tasks (team x here: guests too, they read the board); 404 for
everyone else.
"""

from __future__ import annotations

from typing import Any

from taskforge.testing.authz import Route, World, capability, everyone, holders, only


def make_objects(world: World) -> dict[str, Any]:
    from bookings.models import Departure
    from checklists import services
    from sync.relay import relay_sweep
    from taskforge.dbcontext import context_for_system, context_for_user, db_context

    editor, trip = world.users["catalogue_editor"], world.objects["trip"]
    with db_context(context_for_user(editor)):
        item = services.checklist_item_add(
            actor=editor, trip_code=trip.code, title="Brief the guide", team_id=world.teams["x"].pk, offset_days=-1
        )
    with db_context(context_for_system("authz matrix")):
        departure = Departure.objects.get(trip=trip, date=trip.start)
        services.checklist_start(departure_id=departure.pk)
    relay_sweep()  # the task on team x's board
    return {"checklist_item": item, "checklist_departure": departure}


def _trip(w: World) -> dict[str, Any]:
    return {"code": w.objects["trip"].code}


STAFF_OR_TEAM_X = (*holders("catalogue_editor"), *holders("booking_desk"), "team_guest", "team_member", "team_admin")

MATRIX: dict[str, Route | list[Route]] = {
    "checklists:trip": Route(
        kwargs=_trip,
        GET=capability("catalogue_editor", 200),
        POST=capability("catalogue_editor", 400),  # an empty form
    ),
    "checklists:item_delete": Route(
        kwargs=lambda w: {"item_id": w.objects["checklist_item"].pk},
        GET=everyone(405),
        POST=capability("catalogue_editor", 302),
    ),
    "checklists:departure": Route(
        kwargs=lambda w: {"departure_id": w.objects["checklist_departure"].pk},
        GET=only(200, *STAFF_OR_TEAM_X),
        POST=everyone(405),
    ),
}
