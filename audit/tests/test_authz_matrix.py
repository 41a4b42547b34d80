"""The authorization matrix: every URL pattern of the site x six actors x its methods.

Entries live next to each app, in `<app>/tests/authz.py` (format and helpers: audit/authz.py).
A URL pattern without an entry fails `test_every_url_pattern_has_a_matrix_entry`, which
prints a stub to paste; the entries that exist are all exercised by
`test_authorization_matrix`.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings
from django.db import transaction
from django.test import Client
from django.urls import reverse

from audit.authz import ACTORS, Route, UrlInfo, World, find_route, walk_urls
from taskforge.dbcontext import DbContext, db_context

TEAM_ROLE = "admin"  # staff_x / staff_y run their own team


def local_apps() -> list[str]:
    base = Path(settings.BASE_DIR).resolve()
    return [cfg.name for cfg in apps.get_app_configs() if base in Path(cfg.path).resolve().parents]


def load_hooks() -> tuple[dict[str, Route], list[Any]]:
    """Merge every app's tests/authz.py MATRIX; collect their make_objects hooks."""
    matrix: dict[str, Route] = {}
    makers = []
    for app in local_apps():
        try:
            module = importlib.import_module(f"{app}.tests.authz")
        except ModuleNotFoundError as exc:
            if exc.name in (f"{app}.tests.authz", f"{app}.tests"):
                continue
            raise
        for key, route in getattr(module, "MATRIX", {}).items():
            if key in matrix:
                raise AssertionError(f"authz matrix key {key!r} is defined twice ({app}.tests.authz and another app)")
            matrix[key] = route
        if hasattr(module, "make_objects"):
            makers.append(module.make_objects)
    return matrix, makers


MATRIX, MAKERS = load_hooks()


def _stub(url: UrlInfo) -> str:
    kwargs = "kwargs=lambda w: {...}, " if url.has_params else ""
    return (
        f'    "{url.key}": Route({kwargs}GET=statuses(anon=..., traveller_a=..., traveller_b=..., '
        f"staff_x=..., staff_y=..., admin=...)),  # /{url.route}"
    )


def test_every_url_pattern_has_a_matrix_entry() -> None:
    missing = [url for url in walk_urls() if find_route(url.key, MATRIX) is None]
    assert not missing, (
        f"{len(missing)} URL pattern(s) have no authorization-matrix entry. Add them to <app>/tests/authz.py "
        "(see audit/authz.py):\n" + "\n".join(_stub(url) for url in missing)
    )


def test_matrix_entries_are_well_formed() -> None:
    urls = walk_urls()
    problems = []
    for key, route in MATRIX.items():
        matched = [u for u in urls if find_route(u.key, {key: route}) is not None]
        if not matched:
            problems.append(f"{key}: matches no URL pattern (renamed or removed?)")
        for url in matched:
            if url.has_params and route.kwargs is None and route.path is None:
                problems.append(f"{key}: the pattern has parameters; give kwargs= or path=")
            # Someone else's object is a 404: a 403 would confirm that it exists.
            if url.has_params and not route.allow_403:
                for method, table in route.methods.items():
                    bad = [actor for actor, status in table.items() if status == 403]
                    if bad:
                        problems.append(f"{key} {method}: 403 for {bad}; another person's object must be 404")
    assert not problems, "\n".join(problems)


@pytest.fixture
def world(db) -> World:  # noqa: ANN001
    from accounts.models import Membership, Team, User

    admin = User.objects.create_superuser("matrix-admin@example.com", None)
    with db_context(DbContext(user_id=str(admin.pk), role="system", request_id="authz-matrix-setup")):
        users = {
            "traveller_a": User.objects.create_user("matrix-a@example.com", None, display_name="Traveller A"),
            "traveller_b": User.objects.create_user("matrix-b@example.com", None, display_name="Traveller B"),
            "staff_x": User.objects.create_user("matrix-x@example.com", None, role="staff", display_name="Staff X"),
            "staff_y": User.objects.create_user("matrix-y@example.com", None, role="staff", display_name="Staff Y"),
            "admin": admin,
        }
        teams = {
            "x": Team.objects.create(name="Team X", slug="team-x"),
            "y": Team.objects.create(name="Team Y", slug="team-y"),
        }
        Membership.objects.create(team=teams["x"], user=users["staff_x"], role=TEAM_ROLE)
        Membership.objects.create(team=teams["y"], user=users["staff_y"], role=TEAM_ROLE)
    result = World(users=users, teams=teams)
    for make in MAKERS:
        with db_context(DbContext(user_id=str(admin.pk), role="system", request_id="authz-matrix-objects")):
            made = make(result) or {}
        clash = set(made) & set(result.objects)
        assert not clash, f"make_objects names used twice: {sorted(clash)}"
        result.objects.update(made)
    return result


def _resolve(status: Any, world: World) -> int:
    return status(world) if callable(status) else status


def _url(url: UrlInfo, route: Route, world: World) -> str:
    if route.path is not None:
        return route.path(world)
    kwargs = route.kwargs(world) if route.kwargs else {}
    return reverse(url.key, kwargs={k: str(v) for k, v in kwargs.items()})


def test_authorization_matrix(world: World) -> None:
    clients: dict[str, Client] = {}
    for actor in ACTORS:
        clients[actor] = Client(raise_request_exception=False)
        if actor != "anon":
            clients[actor].force_login(world.users[actor])
    mismatches, tried = [], 0
    for url in walk_urls():
        route = find_route(url.key, MATRIX)
        if route is None:
            continue  # reported by test_every_url_pattern_has_a_matrix_entry
        path = _url(url, route, world)
        query = route.query(world) if route.query else {}
        data = route.data(world) if route.data else {}
        for method, table in route.methods.items():
            for actor in ACTORS:
                expected = _resolve(table[actor], world)
                # Each request in a savepoint that is rolled back: nothing a POST does leaks
                # into the next request.
                with transaction.atomic():
                    client = clients[actor]
                    if method == "GET":
                        response = client.get(path, query, **route.extra)
                    elif method == "POST":
                        response = client.post(path, data, **route.extra)
                    else:
                        response = client.generic(method, path, **route.extra)
                    transaction.set_rollback(True)
                tried += 1
                if response.status_code != expected:
                    where = response.get("Location", "")
                    mismatches.append(
                        f"{method} {path} as {actor}: got {response.status_code}{' -> ' + where if where else ''}"
                        f", expected {expected}  [{url.key}]"
                    )
    assert tried > 0
    assert not mismatches, f"{len(mismatches)} of {tried} request(s) differ:\n" + "\n".join(mismatches)
