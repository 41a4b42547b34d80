"""Authorization matrix support: every URL of the site x six actors x its methods.

Used by audit/tests/test_authz_matrix.py (test-only code, kept importable so that each
app's `tests/authz.py` can use the helpers). How an app adds its entries:

    # <app>/tests/authz.py
    from audit.authz import Route, admin_only, statuses

    MATRIX = {
        # key: "namespace:name" of the URL pattern (or a glob such as "bookings:staff_*",
        # or, for an unnamed pattern, its full route string as the test prints it)
        "bookings:detail": Route(
            kwargs=lambda w: {"booking_id": w.objects["booking_a"].pk},
            GET=statuses(anon=302, traveller_a=200, traveller_b=404, staff_x=200, staff_y=200, admin=200),
            POST=...,                       # only the methods the view accepts; others are not tried
            data=lambda w: {"field": "value"},  # POST body (optional)
        ),
        # Also: query=lambda w: {...} (GET parameters), extra={"REMOTE_ADDR": "203.0.113.9"} (WSGI
        # environ), path=lambda w: "/full/path/" (instead of reversing the name with kwargs).
    }

    def make_objects(world):                # optional: objects your kwargs need
        booking = ...create for world.users["traveller_a"]...
        return {"booking_a": booking}       # merged into world.objects (names must be unique)

The actors (`world.users[...]`): anon (no user), traveller_a, traveller_b, staff_x
(team admin of world.teams["x"]), staff_y (team admin of world.teams["y"]), admin (site
admin, in no team). `make_objects` runs inside an admin database context. Each request
runs in a savepoint that is rolled back, so a POST never changes what the next request
sees. Another person's object must answer 404, not 403: an expected 403 on a URL with
parameters fails the matrix unless the Route says `allow_403=True` (e.g. the Django admin).
A status may be a callable `world -> int` when it depends on the data.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver

ACTORS = ("anon", "traveller_a", "traveller_b", "staff_x", "staff_y", "admin")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")

Status = int | Callable[["World"], int]


@dataclass
class World:
    """The users, teams and app objects the matrix runs against."""

    users: dict[str, Any]
    teams: dict[str, Any]
    objects: dict[str, Any] = field(default_factory=dict)


def statuses(
    *, anon: Status, traveller_a: Status, traveller_b: Status, staff_x: Status, staff_y: Status, admin: Status
) -> dict[str, Status]:
    return {
        "anon": anon,
        "traveller_a": traveller_a,
        "traveller_b": traveller_b,
        "staff_x": staff_x,
        "staff_y": staff_y,
        "admin": admin,
    }


def everyone(status: Status) -> dict[str, Status]:
    return dict.fromkeys(ACTORS, status)


def admin_only(ok: Status = 200, *, others: Status = 404, anon: Status = 302) -> dict[str, Status]:
    """Site admins only: anonymous is sent to sign in, everyone else gets `others` (404)."""
    return statuses(anon=anon, traveller_a=others, traveller_b=others, staff_x=others, staff_y=others, admin=ok)


class Route:
    """The expected statuses of one URL pattern, per method and actor."""

    def __init__(
        self,
        *,
        kwargs: Callable[[World], dict[str, Any]] | None = None,
        path: Callable[[World], str] | None = None,
        query: Callable[[World], dict[str, Any]] | None = None,
        data: Callable[[World], dict[str, Any]] | None = None,
        extra: dict[str, str] | None = None,
        allow_403: bool = False,
        **methods: dict[str, Status],
    ) -> None:
        unknown = set(methods) - set(METHODS)
        if unknown:
            raise TypeError(f"unknown method(s) {sorted(unknown)}; use {', '.join(METHODS)}")
        for method, table in methods.items():
            missing = set(ACTORS) - set(table)
            if missing:
                raise TypeError(f"{method}: no expected status for {sorted(missing)}")
        if not methods:
            raise TypeError("a Route needs at least one method, e.g. GET=everyone(200)")
        self.kwargs, self.path, self.query, self.data = kwargs, path, query, data
        self.extra = extra or {}
        self.allow_403 = allow_403
        self.methods = methods


@dataclass(frozen=True)
class UrlInfo:
    """One URL pattern of the site."""

    key: str  # "namespace:name", or the full route for an unnamed pattern
    route: str
    pattern: URLPattern
    namespace: str
    has_params: bool


def walk_urls(resolver: URLResolver | None = None) -> list[UrlInfo]:
    """Every URLPattern reachable from ROOT_URLCONF, with its namespaced name."""
    found: list[UrlInfo] = []

    def visit(patterns: list[Any], prefix: str, namespace: str) -> None:
        for p in patterns:
            route = prefix + str(p.pattern)
            if isinstance(p, URLResolver):
                ns = namespace
                if p.namespace:
                    ns = f"{namespace}:{p.namespace}" if namespace else p.namespace
                visit(p.url_patterns, route, ns)
            elif isinstance(p, URLPattern):
                name = f"{namespace}:{p.name}" if namespace and p.name else (p.name or "")
                has_params = bool(p.pattern.regex.groupindex) or p.pattern.regex.groups > 0 or "<" in route
                found.append(UrlInfo(name or route, route, p, namespace, has_params))

    resolver = resolver or get_resolver()
    visit(resolver.url_patterns, "", "")
    return found


def find_route(key: str, matrix: dict[str, Route]) -> Route | None:
    """Exact key first, then the most specific matching glob."""
    if key in matrix:
        return matrix[key]
    globs = sorted(
        (k for k in matrix if any(c in k for c in "*?[") and fnmatch.fnmatchcase(key, k)), key=len, reverse=True
    )
    return matrix[globs[0]] if globs else None
