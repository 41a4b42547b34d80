"""The authorization matrix: every URL pattern of the site x every persona x its methods.

Entries live next to each app, in `<app>/tests/authz.py` (format and helpers:
taskforge/testing/authz.py; the actors are the personas of taskforge/testing/personas.py).
A URL pattern without an entry fails `test_every_url_pattern_has_a_matrix_entry`, which
prints a stub to paste; the entries that exist are all exercised by
`test_authorization_matrix`.
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings
from django.db import transaction
from django.shortcuts import resolve_url
from django.test import Client
from django.urls import reverse

from taskforge.dbcontext import context_for_system, db_context
from taskforge.testing.authz import (
    ACTORS,
    TEAM_X,
    Entry,
    Route,
    SignIn,
    UrlInfo,
    World,
    find_routes,
    statuses,
    walk_urls,
)
from taskforge.testing.personas import PERSONAS, person_create


def local_apps() -> list[str]:
    base = Path(settings.BASE_DIR).resolve()
    return [cfg.name for cfg in apps.get_app_configs() if base in Path(cfg.path).resolve().parents]


def load_hooks() -> tuple[dict[str, Entry], list[Any]]:
    """Merge every app's tests/authz.py MATRIX; collect their make_objects hooks."""
    matrix: dict[str, Entry] = {}
    makers = []
    for app in local_apps():
        try:
            module = importlib.import_module(f"{app}.tests.authz")
        except ModuleNotFoundError as exc:
            if exc.name in (f"{app}.tests.authz", f"{app}.tests"):
                continue
            raise
        for key, entry in getattr(module, "MATRIX", {}).items():
            if key in matrix:
                raise AssertionError(f"authz matrix key {key!r} is defined twice ({app}.tests.authz and another app)")
            matrix[key] = entry
        if hasattr(module, "make_objects"):
            makers.append(module.make_objects)
    return matrix, makers


MATRIX, MAKERS = load_hooks()


def _stub(url: UrlInfo) -> str:
    kwargs = "kwargs=lambda w: {...}, " if url.has_params else ""
    actors = ", ".join(f"{actor}=..." for actor in ACTORS)
    return f'    "{url.key}": Route({kwargs}GET=statuses({actors})),  # /{url.route}'


def test_statuses_names_every_actor() -> None:
    assert tuple(inspect.signature(statuses).parameters) == ACTORS


def test_every_url_pattern_has_a_matrix_entry() -> None:
    missing = [url for url in walk_urls() if not find_routes(url.key, MATRIX)]
    assert not missing, (
        f"{len(missing)} URL pattern(s) have no authorization-matrix entry. Add them to <app>/tests/authz.py "
        "(see taskforge/testing/authz.py):\n" + "\n".join(_stub(url) for url in missing)
    )


def test_matrix_entries_are_well_formed() -> None:
    urls = walk_urls()
    problems = []
    for key in MATRIX:
        matched = [u for u in urls if find_routes(u.key, {key: MATRIX[key]})]
        if not matched:
            problems.append(f"{key}: matches no URL pattern (renamed or removed?)")
        for url in matched:
            for route in find_routes(url.key, {key: MATRIX[key]}):
                name = f"{key}{' [' + route.label + ']' if route.label else ''}"
                if url.has_params and route.kwargs is None and route.path is None:
                    problems.append(f"{name}: the pattern has parameters; give kwargs= or path=")
                # 404 for what the person may not know exists; a 403 must be deliberate.
                if url.has_params and not route.allow_403:
                    for method, table in route.methods.items():
                        bad = [actor for actor, status in table.items() if status == 403]
                        if bad:
                            problems.append(
                                f"{name} {method}: 403 for {bad}; say allow_403=True if they may see the object, "
                                "else it must be 404"
                            )
    assert not problems, "\n".join(problems)


def _email(name: str) -> str:
    return f"matrix-{name.replace('_', '-')}@example.com"


@pytest.fixture
def world(db) -> World:
    from accounts.models import Membership, Team

    users: dict[str, Any] = {}
    for persona in PERSONAS:
        if persona.kind is not None:
            users[persona.name] = person_create(
                persona.kind, _email(persona.name), None, display_name=persona.name.replace("_", " ").title()
            )
    users["team_y_admin"] = person_create("member", _email("team_y_admin"), None, display_name="Team Y Admin")
    with db_context(context_for_system("authz matrix setup")):
        teams = {
            "x": Team.objects.create(name="Team X", slug="team-x"),
            "y": Team.objects.create(name="Team Y", slug="team-y"),
        }
        for role, actor in TEAM_X.items():
            Membership.objects.create(team=teams["x"], user=users[actor], role=role)
        Membership.objects.create(team=teams["y"], user=users["team_y_admin"], role="admin")
    result = World(users=users, teams=teams)
    for make in MAKERS:
        with db_context(context_for_system("authz matrix objects")):
            made = make(result) or {}
        clash = set(made) & set(result.objects)
        assert not clash, f"make_objects names used twice: {sorted(clash)}"
        result.objects.update(made)
    return result


def _resolve(status: Any, world: World) -> int:
    return status(world) if callable(status) else status


def _differs(response: Any, expected: int) -> bool:
    if response.status_code != expected:
        return True
    # LOGIN: the redirect must go to the sign-in page, not anywhere.
    return isinstance(expected, SignIn) and not response.get("Location", "").startswith(resolve_url(settings.LOGIN_URL))


def _url(url: UrlInfo, route: Route, world: World) -> str:
    if route.path is not None:
        return route.path(world)
    kwargs = route.kwargs(world) if route.kwargs else {}
    return reverse(url.key, kwargs={k: str(v) for k, v in kwargs.items()})


def _client(actor: str, world: World) -> Client:
    client = Client(raise_request_exception=False)
    if actor != "anon":
        client.force_login(world.users[actor])
        # The first request indexes the session (accounts/sessions.py): made here, outside
        # the rolled-back savepoints, so the session row and its index stay consistent.
        assert client.get(reverse("accounts:sessions")).status_code == 200
    return client


def test_authorization_matrix(world: World) -> None:
    clients = {actor: _client(actor, world) for actor in ACTORS}
    mismatches, tried = [], 0
    for url in walk_urls():
        for route in find_routes(url.key, MATRIX):  # none: reported by test_every_url_pattern_has_a_matrix_entry
            path = _url(url, route, world)
            query = route.query(world) if route.query else {}
            data = route.data(world) if route.data else {}
            for method, table in route.methods.items():
                for actor in ACTORS:
                    expected = _resolve(table[actor], world)
                    client = _client(actor, world) if route.fresh_session else clients[actor]
                    if route.before is not None:
                        route.before(world)
                    # Each request in a savepoint that is rolled back: nothing a POST does leaks
                    # into the next request.
                    with transaction.atomic():
                        if method == "GET":
                            response = client.get(path, query, **route.extra)
                        elif method == "POST":
                            response = client.post(path, data, **route.extra)
                        else:
                            response = client.generic(method, path, **route.extra)
                        transaction.set_rollback(True)
                    tried += 1
                    if _differs(response, expected):
                        where = response.get("Location", "")
                        label = f" ({route.label})" if route.label else ""
                        mismatches.append(
                            f"{method} {path}{label} as {actor}: got {response.status_code}"
                            f"{' -> ' + where if where else ''}, expected {expected!r}  [{url.key}]"
                        )
    assert tried > 0
    assert not mismatches, f"{len(mismatches)} of {tried} request(s) differ:\n" + "\n".join(mismatches)
