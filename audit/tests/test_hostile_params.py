"""Every GET URL of the site, as several kinds of user, with hostile query parameters: the
answer is never a 5xx (issue 14, item 3).

URLs come from the URL resolver (taskforge.testing.authz.walk_urls); their parameters and objects from the
authorization matrix (each app's tests/authz.py and the matrix's `world`). For each URL and
actor the test sends:

* the plain request (with the matrix's own query, if any);
* each hostile value under every parameter name used across the site at once (a few of them
  as htmx requests too), and every name twice;
* each of the PER_NAME values under each name the view actually read, one name at a time (so
  that a 400 for one bad field cannot hide what another would have done). Which names a view
  reads is recorded by a middleware that wraps `request.GET` for the test.

An actor that the plain request refuses or redirects (302, 403, 404, 405) gets only a few
values: the refusal comes before the view reads anything but, perhaps, ?next=. The groups
(one test per app, plus the Django admin) can be run alone: -k "hostile and bookings".

The report pages run against a star schema built by the ETL (without one, they answer
"unavailable" before reading their filters).
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from django.db import transaction
from django.http import HttpRequest, HttpResponse, QueryDict
from django.test import Client
from django.urls import reverse

from audit.tests.test_authz_matrix import MATRIX, world  # noqa: F401 - the matrix's users, teams and objects
from reports import etl
from reports.tests.testdata import star_drop
from taskforge.testing.authz import Route, UrlInfo, World, find_routes, walk_urls

# --- who asks: the one place to adapt when the actors of the matrix change ----------------------
ACTORS: dict[str, str | None] = {
    "anonymous": None,
    "traveller": "traveller",
    "team_admin": "team_admin",
    "booking_desk": "booking_desk",
    "site_admin": "site_admin",
}

# --- what they send -------------------------------------------------------------------------------
# Parameter names read somewhere on the site (grep request.GET and the GET-bound forms), plus
# some no view reads and the Django admin's own.
PARAM_NAMES = (
    # shared / tasks
    "q", "page", "sort", "all", "team", "fragment", "status", "priority", "assignee", "tag", "due_from", "due_to",
    "overdue",
    # bookings
    "resort", "price_range", "price_min", "price_max", "start_from", "start_to", "length_min", "length_max",
    "travellers", "show", "trip", "travel_from", "travel_to", "traveller",
    # reports
    "start", "end", "currency", "period",
    # audit
    "table", "record", "user", "operation", "date_from", "date_to", "source", "also",
    # accounts
    "next", "email", "token",
    # read nowhere
    "from", "to", "date", "min_price", "max_price", "id", "limit", "offset", "format", "lang",
    # the Django admin
    "p", "o", "e", "_popup", "_to_field", "_changelist_filters",
)  # fmt: skip

_raw = quote  # a value as it appears in a query string (UTF-8, percent-encoded)

# name -> the value as it appears in the query string (already percent-encoded).
HOSTILE: dict[str, str] = {
    "nul": _raw("a\x00b"),
    "int30": "9" * 30,
    "int30_negative": "-" + "9" * 30,
    "negative": "-1",
    "zero": "0",
    "exponent": "1e999999",
    "long": "x" * 10_000,
    "long_digits": "1" * 10_000,
    "rtl_override": _raw("\u202egnp.exe\u202c"),
    "invalid_utf8": "%ff%fe%c3",
    "combining": _raw("e" + "\u0301\u0308" * 40),
    "emoji": _raw("\U0001f469\u200d\U0001f469\u200d\U0001f467 \U0001f525"),
    "zero_width": _raw("\u200b\u200d\ufeff"),
    "far_date": "99999-12-31",
    "unicode_digits": _raw("\u00b2\u0661\u0663"),  # str.isdigit() is true, int() refuses them
}
# Values tried one name at a time (every value is tried under all names at once), as htmx
# requests, and against pages that refuse or redirect the actor.
PER_NAME = ("nul", "int30", "int30_negative", "long", "unicode_digits", "invalid_utf8")
HTMX = ("nul", "int30")
REFUSED = ("nul", "long")


# --- recording which names a view reads -------------------------------------------------------------
_reads = threading.local()


class RecordingQueryDict(QueryDict):
    """request.GET that notes each name looked up (get, getlist, [], in). Lookups made while
    iterating over every parameter (a cache key of the whole query) are not reads of a name."""

    def _note(self, key: Any) -> None:
        names = getattr(_reads, "names", None)
        if names is not None and isinstance(key, str) and not getattr(_reads, "iterating", 0):
            names.add(key)

    def __iter__(self) -> Iterator[str]:
        _reads.iterating = getattr(_reads, "iterating", 0) + 1
        try:
            yield from super().__iter__()
        finally:
            _reads.iterating -= 1

    def __getitem__(self, key: str) -> Any:
        self._note(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self._note(key)
        return super().__contains__(key)

    def get(self, key: str, default: Any = None) -> Any:
        self._note(key)
        return super().get(key, default)

    def getlist(self, key: str, default: Any = None) -> list[Any]:
        self._note(key)
        return super().getlist(key, default)

    def copy(self) -> QueryDict:
        plain = QueryDict(mutable=True)
        for key, values in self.lists():
            plain.setlist(key, values)
        return plain


class RecordingMiddleware:
    """Test-only: replaces request.GET by a RecordingQueryDict with the same content."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        recording = RecordingQueryDict(mutable=True)
        for key, values in request.GET.lists():
            recording.setlist(key, values)
        recording._mutable = False
        request.GET = recording
        return self.get_response(request)


# --- the test ---------------------------------------------------------------------------------------


def _get_urls() -> list[tuple[UrlInfo, Route]]:
    """Every URL pattern whose matrix entries have GET, unless GET is refused (405) to everybody
    (an entry may hold several labelled routes, e.g. another team's object: each is probed)."""
    found = []
    for url in walk_urls():
        for route in find_routes(url.key, MATRIX):
            if "GET" not in route.methods:
                continue
            if all(status == 405 for status in route.methods["GET"].values()):
                continue
            found.append((url, route))
    return found


def _path(url: UrlInfo, route: Route, w: World) -> str:
    if route.path is not None:
        return route.path(w)
    kwargs = route.kwargs(w) if route.kwargs else {}
    return reverse(url.key, kwargs={k: str(v) for k, v in kwargs.items()})


def _why(response: Any) -> str:
    exc_info = getattr(response, "exc_info", None)
    if not exc_info:
        return ""
    return f": {exc_info[0].__name__}: {str(exc_info[1])[:160]}"


def _group(key: str) -> str:
    """URLs are probed per app, so that one app's pages can be run alone (-k bookings)."""
    if key.startswith("admin"):
        return "django_admin"
    return key.split(":")[0] if ":" in key else "site"


GET_URLS = _get_urls()
GROUPS = sorted({_group(url.key) for url, _ in GET_URLS})


class Probe:
    """The requests of one run: per actor a signed-in client; every answer counted; the
    5xx answers listed."""

    def __init__(self, clients: dict[str, Client]) -> None:
        self.clients = clients
        self.answers: dict[tuple[str, str], Counter[int]] = defaultdict(Counter)
        self.failures: list[str] = []
        self.sent = 0

    def url(self, key: str, actor: str, path: str, base: dict[str, str]) -> None:
        """Everything this test sends to one URL as one actor."""

        def send(query: str, label: str, *, htmx: bool = False) -> tuple[int, set[str]]:
            """One GET in a savepoint that is rolled back; its status and the names it read."""
            _reads.names = set()
            try:
                with transaction.atomic():
                    response = self.clients[actor].get(
                        path, QUERY_STRING=query, **({"HTTP_HX_REQUEST": "true"} if htmx else {})
                    )
                    transaction.set_rollback(True)
            finally:
                names, _reads.names = _reads.names, None
            self.sent += 1
            self.answers[(key, actor)][response.status_code] += 1
            if response.status_code >= 500:
                where = f"{label}, htmx" if htmx else label
                self.failures.append(f"{actor} GET {path} [{where}] -> {response.status_code}{_why(response)}")
            return response.status_code, names

        status, read = send(urlencode(base), f"plain: {urlencode(base)}")
        names = sorted(set(PARAM_NAMES) | set(base))
        # A refused or redirected actor never reaches the view's own reading of the query: a
        # few values show that the refusal itself (e.g. the sign-in redirect's ?next=) copes.
        reached = 200 <= status < 300
        for label in HOSTILE if reached else REFUSED:
            read |= send(_joined(names, HOSTILE[label]), f"every name={label}")[1]
        for label in HTMX if reached else ():
            read |= send(_joined(names, HOSTILE[label]), f"every name={label}", htmx=True)[1]
        read |= send("&".join(f"{n}=1&{n}={HOSTILE['nul']}" for n in names), "every name twice, NUL second")[1]
        if not reached:
            return
        # One name at a time: a 400 for one bad field must not hide what another would do.
        done: set[str] = set()
        while read - done:
            name = min(read - done)
            done.add(name)
            others = urlencode({k: v for k, v in base.items() if k != name})
            for label in PER_NAME:
                read |= send(f"{others}&{name}={HOSTILE[label]}".lstrip("&"), f"{name}={label}")[1]
            send(f"{others}&{name}=1&{name}=2".lstrip("&"), f"{name} twice")

    def report(self) -> str:
        lines = [f"{self.sent} requests; the answers per URL and actor:"]
        for (key, actor), counts in sorted(self.answers.items()):
            lines.append(f"  {key:55} {actor:11} {dict(sorted(counts.items()))}")
        return "\n".join(lines)


def _joined(names: list[str], value: str) -> str:
    return "&".join(f"{name}={value}" for name in names)


@pytest.fixture
def recording(settings) -> None:
    settings.MIDDLEWARE = [f"{__name__}.RecordingMiddleware", *settings.MIDDLEWARE]


@pytest.fixture
def probe(world: World, recording: None) -> Probe:  # noqa: F811
    clients: dict[str, Client] = {}
    for actor, who in ACTORS.items():
        client = Client(raise_request_exception=False)
        if who is not None:
            client.force_login(world.users[who])
            # The first request indexes the session (accounts.middleware): outside the
            # rolled-back savepoints, so that it stays indexed for the whole run.
            assert client.get("/").status_code == 200
        clients[actor] = client
    return Probe(clients)


@pytest.fixture(scope="module")
def star_schema(django_db_blocker) -> Iterator[None]:
    """The reports' star schema (built by the ETL in its own connections). Module-scoped so
    that it is dropped after the test's transaction has ended (DROP would wait for it)."""
    with django_db_blocker.unblock():
        star_drop()
        assert etl.run_etl().status == "ok"
    yield
    with django_db_blocker.unblock():
        star_drop()


@pytest.mark.slow
@pytest.mark.parametrize("group", GROUPS)
def test_no_get_url_answers_5xx_to_hostile_parameters(
    group: str,
    world: World,  # noqa: F811
    probe: Probe,
    request: pytest.FixtureRequest,
) -> None:
    if group == "reports":
        request.getfixturevalue("star_schema")
    for url, route in GET_URLS:
        if _group(url.key) != group:
            continue
        path = _path(url, route, world)
        base = {k: str(v) for k, v in (route.query(world) if route.query else {}).items()}
        for actor in ACTORS:
            probe.url(url.key, actor, path, base)
    print(f"\n{group}: {probe.report()}")
    assert probe.sent > 0
    assert not probe.failures, f"{len(probe.failures)} request(s) answered 5xx:\n" + "\n".join(probe.failures)
