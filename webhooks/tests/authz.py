"""Authorization-matrix entries of the webhooks app (format: taskforge/testing/authz.py).

A team's webhooks are managed by its admins (`team.manage`): in team "x" the guest and the
member see the team, so its webhooks page answers them 403; an endpoint or a delivery is
404 to everyone who does not manage it (they may not know it exists), site admins
included (they are in no team). The booking desk's webhooks are a booking-desk page (site
admins hold every capability). Anonymous visitors are sent to sign in.
"""

from __future__ import annotations

from typing import Any

from taskforge.testing.authz import Route, World, capability, only, signed_in, team_x

PUBLIC_URL = "https://93.184.215.14/hooks"  # a literal public address: no DNS, passes the SSRF guard


def make_objects(world: World) -> dict[str, Any]:
    from taskforge.dbcontext import context_for_system, context_for_user, db_context
    from webhooks.models import WebhookDelivery
    from webhooks.services.endpoints import endpoint_create

    made = {}
    for key, actor, scope, team, events in (
        ("webhook_x", "team_admin", "team", world.teams["x"], ["task.created"]),
        ("webhook_y", "team_y_admin", "team", world.teams["y"], ["task.created"]),
        ("webhook_desk", "booking_desk", "desk", None, ["booking.created"]),
    ):
        user = world.users[actor]
        with db_context(context_for_user(user)):
            made[key], _secret = endpoint_create(
                actor=user, scope=scope, team_id=team.id if team else None, url=PUBLIC_URL, event_types=events
            )
    with db_context(context_for_system("authz matrix")):
        for key in ("webhook_x", "webhook_y", "webhook_desk"):
            made[f"{key}_delivery"] = WebhookDelivery.objects.create(
                endpoint=made[key], event_id=f"matrix-{key}", event_type=made[key].event_types[0], payload={"id": 1}
            )
    return made


def _endpoint(key: str):
    return lambda w: {"endpoint_id": w.objects[key].pk}


def _delivery(key: str):
    return lambda w: {"delivery_id": w.objects[f"{key}_delivery"].pk}


def _team_data(w: World) -> dict[str, Any]:
    return {"url": PUBLIC_URL, "event_types": ["task.created", "task.moved"], "description": "matrix"}


def _desk_data(w: World) -> dict[str, Any]:
    return {"url": PUBLIC_URL, "event_types": ["booking.created"], "description": "matrix"}


def _edit_data(events: list[str]):
    return lambda w: {"url": PUBLIC_URL, "event_types": events, "description": "edited", "active": "on"}


# Who manages each endpoint: team x's admin; team y's admin (not an actor: nobody); the desk.
_MANAGERS = {
    "webhook_x": lambda ok: only(ok, "team_admin"),
    "webhook_y": lambda ok: signed_in(404),
    "webhook_desk": lambda ok: capability("booking_desk", ok),
}
_EDIT_EVENTS = {"webhook_x": ["task.deleted"], "webhook_y": ["task.deleted"], "webhook_desk": ["booking.cancelled"]}


def _per_endpoint(**methods_ok: int) -> list[Route]:
    return [
        Route(
            label=key,
            kwargs=_endpoint(key),
            data=_edit_data(_EDIT_EVENTS[key]),
            **{method: _MANAGERS[key](ok) for method, ok in methods_ok.items()},
        )
        for key in _MANAGERS
    ]


MATRIX = {
    "webhooks:team": [
        Route(
            label="team x",
            kwargs=lambda w: {"team_id": w.teams["x"].id},
            data=_team_data,
            allow_403=True,
            GET=team_x(guest=403, member=403, admin=200),
            POST=team_x(guest=403, member=403, admin=201),
        ),
        Route(
            label="team y",
            kwargs=lambda w: {"team_id": w.teams["y"].id},
            data=_team_data,
            GET=signed_in(404),
            POST=signed_in(404),
        ),
    ],
    "webhooks:desk": Route(data=_desk_data, GET=capability("booking_desk", 200), POST=capability("booking_desk", 201)),
    "webhooks:endpoint": _per_endpoint(GET=200),
    "webhooks:endpoint_edit": _per_endpoint(GET=200, POST=302),
    "webhooks:endpoint_toggle": _per_endpoint(POST=302),
    "webhooks:endpoint_secret": _per_endpoint(POST=200),
    "webhooks:endpoint_delete": _per_endpoint(POST=302),
    "webhooks:redeliver": [Route(label=key, kwargs=_delivery(key), POST=_MANAGERS[key](302)) for key in _MANAGERS],
}
