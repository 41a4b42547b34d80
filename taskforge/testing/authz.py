"""Authorization matrix support: every URL of the site x every persona x its methods.

Used by audit/tests/test_authz_matrix.py; each app's `tests/authz.py` declares its entries
with the helpers below. The actors are the personas of taskforge/testing/personas.py (the
one set of test personas): anon, traveller, other_traveller, team_guest, team_member and
team_admin (their roles are in team "x"; no site capability), booking_desk,
catalogue_editor, reports_reader and site_admin (capabilities only, in no team). Team "y"
is run by `world.users["team_y_admin"]`, who is not an actor: team y's objects are
"another team's" for everyone in x. How an app adds its entries:

    # <app>/tests/authz.py
    from taskforge.testing.authz import Route, capability, everyone, only, signed_in, statuses

    MATRIX = {
        # key: "namespace:name" of the URL pattern (or a glob such as "bookings:staff_*",
        # or, for an unnamed pattern, its full route string as the test prints it)
        "bookings:detail": Route(
            kwargs=lambda w: {"booking_id": w.objects["booking_traveller"].pk},
            GET=only(200, "traveller", "booking_desk", "site_admin"),  # others 404, anon 302
            POST=...,                       # only the methods the view accepts; others are not tried
            data=lambda w: {"field": "value"},  # POST body (optional)
        ),
        # A list of Routes tries the same pattern with other objects (another team's task, a
        # token that does not exist, ...); give each a label.
        # Also: query=lambda w: {...} (GET parameters), extra={"REMOTE_ADDR": "203.0.113.9"} (WSGI
        # environ), path=lambda w: "/full/path/" (instead of reversing the name with kwargs),
        # fresh_session=True (each request from a new session of the actor, for requests that
        # end the session: signing out), before=lambda w: ... (run before each request, to put
        # back what an earlier request changed outside PostgreSQL, which the rollback does not
        # undo: a comment deleted from the document store).
    }

    def make_objects(world):                # optional: objects your kwargs need
        booking = ...create for world.users["traveller"]...
        return {"booking_traveller": booking}  # merged into world.objects (names must be unique)

Status tables (one expected status per actor):
* `statuses(anon=..., traveller=..., ...)`: every actor spelled out;
* `everyone(status)`, `signed_in(status)` (anonymous: LOGIN, a 302 that must go to the
  sign-in page);
* `only(ok, *actors)`: those actors get `ok`, other signed-in actors 404, anonymous LOGIN;
* `capability(name, ok)`: the holders of a site capability (site admins hold every one);
* `team_x(guest=, member=, admin=)`: team x's pages by team role; everyone else 404.
Each takes keyword overrides per actor, e.g. `signed_in(200, site_admin=403)`.

`make_objects` runs inside the system's database context. Each request runs in a savepoint
that is rolled back, so a POST never changes what the next request sees in PostgreSQL. A page or object
the person may not know exists answers 404, an action refused on something they can see 403
(taskforge/decorators.py): an expected 403 on a URL with parameters fails the matrix unless
the Route says `allow_403=True`, to make each one deliberate. A status may be a callable
`world -> int` when it depends on the data.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver

from taskforge.testing.personas import ACTORS, KIND_CAPABILITIES, PERSONAS

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


class SignIn(int):
    """302 to the sign-in page (the matrix checks where the redirect goes, too)."""

    def __repr__(self) -> str:
        return "302 (to sign in)"


LOGIN = SignIn(302)  # anonymous visitors are sent to sign in

Status = int | Callable[["World"], int]
Table = dict[str, Status]

SIGNED_IN: tuple[str, ...] = tuple(p.name for p in PERSONAS if p.kind is not None)
# role in team "x" -> the actor holding it
TEAM_X: dict[str, str] = {p.team_role: p.name for p in PERSONAS if p.team_role}


@dataclass
class World:
    """The users (by actor name, plus `team_y_admin`), teams ("x", "y") and app objects."""

    users: dict[str, Any]
    teams: dict[str, Any]
    objects: dict[str, Any] = field(default_factory=dict)


def statuses(
    *,
    anon: Status,
    traveller: Status,
    other_traveller: Status,
    team_guest: Status,
    team_member: Status,
    team_admin: Status,
    booking_desk: Status,
    catalogue_editor: Status,
    reports_reader: Status,
    site_admin: Status,
) -> Table:
    return {
        "anon": anon,
        "traveller": traveller,
        "other_traveller": other_traveller,
        "team_guest": team_guest,
        "team_member": team_member,
        "team_admin": team_admin,
        "booking_desk": booking_desk,
        "catalogue_editor": catalogue_editor,
        "reports_reader": reports_reader,
        "site_admin": site_admin,
    }


def _with(table: Table, overrides: dict[str, Status]) -> Table:
    unknown = set(overrides) - set(ACTORS)
    if unknown:
        raise TypeError(f"unknown actor(s) {sorted(unknown)}; the actors are {', '.join(ACTORS)}")
    return {**table, **overrides}


def everyone(status: Status, **overrides: Status) -> Table:
    return _with(dict.fromkeys(ACTORS, status), overrides)


def signed_in(status: Status, *, anon: Status = LOGIN, **overrides: Status) -> Table:
    """Any signed-in person gets `status`; anonymous visitors are sent to sign in."""
    return _with({**dict.fromkeys(SIGNED_IN, status), "anon": anon}, overrides)


def only(ok: Status, *actors: str, others: Status = 404, anon: Status = LOGIN, **overrides: Status) -> Table:
    """`actors` get `ok`; every other signed-in person `others` (404: the page does not
    exist for them); anonymous visitors are sent to sign in."""
    return _with(signed_in(others, anon=anon), {**dict.fromkeys(actors, ok), **overrides})


def holders(capability_name: str) -> tuple[str, ...]:
    """The actors holding a site capability (site admins hold every one)."""
    return tuple(
        p.name
        for p in PERSONAS
        if p.kind is not None
        and (capability_name in KIND_CAPABILITIES[p.kind] or "site_admin" in KIND_CAPABILITIES[p.kind])
    )


def capability(
    name: str, ok: Status = 200, *, others: Status = 404, anon: Status = LOGIN, **overrides: Status
) -> Table:
    """A page of one site capability: its holders get `ok`, everyone else 404."""
    if name not in {cap for caps in KIND_CAPABILITIES.values() for cap in caps}:
        raise ValueError(f"unknown capability {name!r}")
    return only(ok, *holders(name), others=others, anon=anon, **overrides)


def team_x(
    *,
    guest: Status,
    member: Status,
    admin: Status,
    site_admin: Status = 404,
    others: Status = 404,
    anon: Status = LOGIN,
    **overrides: Status,
) -> Table:
    """Team x's pages by team role; the site admin (in no team) and everyone else as given."""
    table = only(others, anon=anon)
    table.update({TEAM_X["guest"]: guest, TEAM_X["member"]: member, TEAM_X["admin"]: admin, "site_admin": site_admin})
    return _with(table, overrides)


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
        fresh_session: bool = False,
        before: Callable[[World], None] | None = None,
        label: str = "",
        **methods: Table,
    ) -> None:
        unknown = set(methods) - set(METHODS)
        if unknown:
            raise TypeError(f"unknown method(s) {sorted(unknown)}; use {', '.join(METHODS)}")
        for method, table in methods.items():
            missing = set(ACTORS) - set(table)
            if missing:
                raise TypeError(f"{method}: no expected status for {sorted(missing)}")
            strangers = set(table) - set(ACTORS)
            if strangers:
                raise TypeError(f"{method}: {sorted(strangers)} are not actors")
        if not methods:
            raise TypeError("a Route needs at least one method, e.g. GET=everyone(200)")
        self.kwargs, self.path, self.query, self.data = kwargs, path, query, data
        self.extra = extra or {}
        self.allow_403 = allow_403
        self.fresh_session = fresh_session
        self.before = before
        self.label = label
        self.methods = methods


Entry = Route | list[Route]


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


def find_routes(key: str, matrix: dict[str, Entry]) -> list[Route]:
    """The Routes of a URL pattern: its exact key first, then the most specific matching glob
    (empty when it has no entry)."""
    if key in matrix:
        entry = matrix[key]
    else:
        globs = sorted(
            (k for k in matrix if any(c in k for c in "*?[") and fnmatch.fnmatchcase(key, k)), key=len, reverse=True
        )
        if not globs:
            return []
        entry = matrix[globs[0]]
    return list(entry) if isinstance(entry, list) else [entry]
