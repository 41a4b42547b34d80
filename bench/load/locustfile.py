"""Locust users of the load benchmark (run by bench/load/__main__.py, one headless locust
process per step; never imported by the harness itself, because locust monkey-patches
the standard library with gevent).

Mixed traffic (BENCH_MODE=mixed), by number of simulated users:

* 60% AnonymousBrowser: the catalogue list with sorts, pages and filters, full-text search
  (exact words and misspelt ones, which take the trigram fallback) and trip pages;
* 25% Traveller: signs in through the real form (GET the page, POST with its CSRF token),
  then books (trip page, booking form, review, confirm) and cancels (cancel page,
  confirm), looks at the booking and at My bookings, three times, and signs out;
* 15% Staff: signs in, then works a team's board and list, opens a task, comments on it
  mentioning a teammate (a notification, and an email through the worker), sometimes
  moves the card, reads notifications, the bell, My tasks and the dashboard.

BENCH_MODE=constant runs only ConstantPage: `/bench/constant/` (the framework ceiling).

Each call of a user's task sends exactly ONE request (the user's script is a generator
that yields after each request), so the wait time is per request: BENCH_WAIT
"closed:<s>" waits uniform(0, s) between requests (capacity steps), "rate:<r>" sends r
requests per second per user at most (locust constant_throughput; the soak and the
background load of the fault phases).

Data come from the seeders (bench.catalogue: trips B000001.., travellers
traveller00000@bench.example..; bench.tasks via bench/load/data.py: teams with members
bench00@t<k>.bench.example..), described to this file in BENCH_* variables.

What counts as an error (locust "failure"): any 5xx, a connection error or timeout, and
an answer the flow did not expect (a sign-in that does not redirect, a booking that does
not land on its page). Business refusals a real user can meet under concurrency (a
card moved by someone else meanwhile: 409) are correct answers and are reported under
their own name, not as errors.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import random
import urllib.parse
from collections.abc import Iterator
from typing import Any

from locust import between, constant_throughput, task
from locust.contrib.fasthttp import FastHttpUser

from bench.catalogue.__main__ import RESORTS, Scenario
from bench.load.pages import (
    BOOKING_PATH_RE,
    MOVE_RE,
    TASK_LINK_RE,
    VERSION_RE,
    booking_form,
    csrf_token,
    hidden_fields,
)
from bench.tasks.__main__ import WORDS, _paths

MODE = os.environ.get("BENCH_MODE", "mixed")
PASSWORD = os.environ.get("BENCH_PASSWORD", "bench-pass-2026")
TRIPS = int(os.environ.get("BENCH_TRIPS", "1000"))
TRAVELLERS = int(os.environ.get("BENCH_TRAVELLERS", "100"))
TEAMS: list[dict[str, Any]] = json.loads(os.environ.get("BENCH_TEAMS", "[]"))
TODAY = dt.date.fromisoformat(os.environ.get("BENCH_TODAY", dt.date.today().isoformat()))


def _wait_time() -> Any:
    kind, _, value = os.environ.get("BENCH_WAIT", "closed:0.5").partition(":")
    if kind == "rate":
        return constant_throughput(float(value))
    return between(0.0, float(value or 0))


WAIT = _wait_time()
_serial = itertools.count()


class Flow(FastHttpUser):
    """One request per task call: `script()` is a generator that yields after each request."""

    abstract = True
    wait_time = WAIT
    network_timeout = 30.0
    connection_timeout = 10.0
    prefix = ""

    def on_start(self) -> None:
        self.n = next(_serial)
        self.rng = random.Random(os.getpid() * 100_003 + self.n)
        self.steps: Iterator[None] = self.script()

    @task
    def step(self) -> None:
        try:
            next(self.steps)
        except StopIteration:
            self.steps = self.script()
            next(self.steps)

    def script(self) -> Iterator[None]:
        raise NotImplementedError

    # --- requests ---------------------------------------------------------------------------------

    def call(
        self,
        method: str,
        path: str,
        name: str,
        *,
        data: dict[str, str] | None = None,
        expect: tuple[int, ...] = (200,),
        refusals: tuple[int, ...] = (),
        headers: dict[str, str] | None = None,
    ) -> tuple[int, str, str]:
        """Send one request; returns (status, body, Location). Unexpected answers are failures."""
        hdrs = {"User-Agent": "bench.load", **(headers or {})}
        body = None
        if data is not None:
            body = urllib.parse.urlencode(data)
            hdrs["Content-Type"] = "application/x-www-form-urlencoded"
        label = f"{self.prefix}: {name}"
        with self.client.request(
            method, path, name=label, data=body, headers=hdrs, catch_response=True, allow_redirects=False
        ) as response:
            status = response.status_code or 0
            text = (response.text or "") if status else ""
            location = (response.headers or {}).get("Location", "") if status else ""
            if status in expect:
                response.success()
            elif status in refusals:
                # A correct business answer (e.g. a stale card version): not an error, named apart.
                response.request_meta["name"] = f"{label} (refused {status})"
                response.success()
            elif status == 0:
                response.failure(f"no answer: {getattr(response, 'error', '')!r}")
            else:
                response.failure(f"HTTP {status} (expected {'/'.join(map(str, expect))})")
        return status, text, location

    def csrf(self, page: str) -> str:
        """The form's token, else the cookie's secret (Django accepts either)."""
        return csrf_token(page) or next((c.value for c in self.client.cookiejar if c.name == "csrftoken"), "") or ""

    def sign_in(self, email: str, next_url: str) -> Iterator[None]:
        self.client.cookiejar.clear()
        _, page, _ = self.call("GET", "/accounts/login/", "sign-in page")
        yield
        data = {"csrfmiddlewaretoken": self.csrf(page), "email": email, "password": PASSWORD, "next": next_url}
        self.call("POST", "/accounts/login/", "sign in", data=data, expect=(302,))
        yield

    def sign_out(self, page: str) -> None:
        self.call("POST", "/accounts/logout/", "sign out", data={"csrfmiddlewaretoken": self.csrf(page)},
                  expect=(302,))  # fmt: skip


class AnonymousBrowser(Flow):
    """Catalogue browsing and search, signed out."""

    weight = 60
    prefix = "anon"

    def script(self) -> Iterator[None]:
        while True:
            name = self.rng.choices(["list", "search exact", "search typo", "trip page"], weights=[35, 25, 10, 30])[0]
            if name == "list" and self.rng.random() < 0.3:
                # A filter a visitor builds by hand: a resort and a price ceiling.
                resort = urllib.parse.quote(self.rng.choice(RESORTS))
                path = f"/trips/?resort={resort}&price_max={self.rng.choice([1500, 3000, 5000])}&sort=price"
            else:
                _, path, _, _ = Scenario(name, TRIPS, TODAY).request(self.rng)
            self.call("GET", path, name)
            yield


class Traveller(Flow):
    """Signs in through the form, books, looks, cancels; three times; signs out."""

    weight = 25
    prefix = "traveller"

    def script(self) -> Iterator[None]:
        email = f"traveller{(self.n * 7 + self.rng.randint(0, 6)) % TRAVELLERS:05d}@bench.example"
        yield from self.sign_in(email, "/bookings/mine/")
        page = ""
        for _ in range(3):
            _, code = Scenario("book", TRIPS, TODAY)._code(self.rng)
            self.call("GET", f"/trips/{code}/", "trip page")
            yield
            status, page, _ = self.call("GET", f"/trips/{code}/book/", "booking form")
            yield
            fields = booking_form(page) if status == 200 else None
            if not fields:
                continue
            data = {
                **fields,
                "csrfmiddlewaretoken": self.csrf(page),
                "travellers": str(self.rng.choice([1, 1, 2])),
                "step": "review",
            }
            status, page, _ = self.call("POST", f"/trips/{code}/book/", "booking review", data=data)
            yield
            hidden = hidden_fields(page)
            if status != 200 or hidden.get("step") != "confirm":
                continue
            hidden["csrfmiddlewaretoken"] = self.csrf(page)
            status, _, location = self.call(
                "POST", f"/trips/{code}/book/", "booking confirm", data=hidden, expect=(302,), refusals=(409,)
            )
            yield
            booking = BOOKING_PATH_RE.match(urllib.parse.urlsplit(location).path or "")
            if status != 302 or not booking:
                continue
            booking_url = booking.group(0)
            self.call("GET", booking_url, "booking page")
            yield
            _, page, _ = self.call("GET", "/bookings/mine/", "my bookings")
            yield
            status, page, _ = self.call("GET", f"{booking_url}cancel/", "cancel page")
            yield
            if status == 200:
                self.call("POST", f"{booking_url}cancel/", "cancel", data={"csrfmiddlewaretoken": self.csrf(page)},
                          expect=(302,))  # fmt: skip
                yield
        self.sign_out(page)
        yield


class Staff(Flow):
    """A team member working the board and the list, tasks, comments and notifications."""

    weight = 15
    prefix = "staff"

    def script(self) -> Iterator[None]:
        team = TEAMS[self.n % len(TEAMS)]
        members: list[str] = team["members"]
        me = members[(self.n // len(TEAMS)) % len(members)]
        yield from self.sign_in(me, "/tasks/")
        task_ids: list[str] = []
        for round_ in range(6):
            board, listing = _paths(team["id"], self.rng)
            status, page, _ = self.call("GET", board, "board")
            yield
            task_ids = TASK_LINK_RE.findall(page) or task_ids
            self.call("GET", listing, "list")
            yield
            if task_ids:
                task_id = self.rng.choice(task_ids)
                status, page, _ = self.call("GET", f"/tasks/{task_id}/", "task page")
                yield
                if status == 200:
                    mate = self.rng.choice(members).split("@", 1)[0]
                    body = f"@{mate} {' '.join(self.rng.choice(WORDS) for _ in range(8))}"
                    self.call("POST", f"/tasks/{task_id}/comments/", "comment",
                              data={"csrfmiddlewaretoken": self.csrf(page), "body": body}, expect=(302,))  # fmt: skip
                    yield
                    version, moves = VERSION_RE.search(page), MOVE_RE.findall(page)
                    if version and moves and self.rng.random() < 0.3:
                        data = {"csrfmiddlewaretoken": self.csrf(page), "status": self.rng.choice(moves),
                                "version": version.group(1), "next": "detail"}  # fmt: skip
                        self.call("POST", f"/tasks/{task_id}/move/", "move card", data=data, expect=(302,),
                                  refusals=(409,))  # fmt: skip
                        yield
            self.call("GET", "/notifications/badge/", "bell", headers={"X-Background": "1", "HX-Request": "true"})
            yield
            if round_ % 2 == 0:
                self.call("GET", "/notifications/", "notifications")
                yield
            else:
                self.call("GET", "/tasks/mine/", "my tasks")
                yield
            if round_ == 3:
                self.call("GET", "/dashboard/", "dashboard")
                yield
                self.call("GET", f"/tasks/search/?q={self.rng.choice(WORDS)}", "task search")
                yield
        self.sign_out(page)
        yield


class ConstantPage(FastHttpUser):
    """The framework ceiling: a bare view returning a constant page."""

    weight = 1
    wait_time = WAIT
    network_timeout = 30.0

    @task
    def constant(self) -> None:
        self.client.get("/bench/constant/", name="constant page")


# Which users this process runs (locust picks up every non-abstract User class in the module).
if MODE == "constant":
    del AnonymousBrowser, Traveller, Staff
else:
    del ConstantPage
