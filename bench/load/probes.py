"""Plain HTTP clients the harness itself drives during the fault phases (besides the
locust background load): they sign in through the real form, book, comment and probe
public pages, and record every answer with its time, so each fault's claim is checked
on requests whose outcome we know exactly.

The client is bench.catalogue's (keep-alive connection, cookies, sign-in with CSRF).
"""

from __future__ import annotations

import random
import re
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from bench.catalogue.__main__ import EXACT_QUERIES, Client
from bench.load.pages import VERSION_RE, booking_form, csrf_token, hidden_fields


@dataclass
class Answer:
    at: float  # time.time() when sent
    what: str
    status: int  # 0 = no answer (connection error / timeout)
    seconds: float
    detail: str = ""


@dataclass
class Recorder:
    answers: list[Answer] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, answer: Answer) -> None:
        with self.lock:
            self.answers.append(answer)

    def between(self, start: float, end: float, what: str | None = None) -> list[Answer]:
        return [a for a in self.answers if start <= a.at < end and (what is None or a.what == what)]


def timed(client: Client, rec: Recorder, what: str, method: str, path: str,
          body: dict[str, str] | None = None) -> tuple[int, str, dict[str, str]]:  # fmt: skip
    """One request; (status, body text, headers). Never raises: no answer is status 0.

    Like a browser, it retries once when a kept-alive connection turns out to be closed
    (the server closes idle ones after its keepalive); a second failure is recorded."""
    import http.client

    if body is not None:
        token = body.get("csrfmiddlewaretoken") or client.cookies.get("csrftoken", "")
        body = {**body, "csrfmiddlewaretoken": token}
    data = urllib.parse.urlencode(body) if body is not None else None
    sent, started = time.time(), time.perf_counter()
    status, text, hdrs, detail = 0, "", {}, ""
    for attempt in range(2):
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in client.cookies.items()), "User-Agent": "bench.load probe"}
        if data is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            client.conn.request(method, path, body=data, headers=headers)
            response = client.conn.getresponse()
            payload = response.read()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
            client.conn.close()
            client.conn = http.client.HTTPConnection("127.0.0.1", client.port, timeout=30)
            detail = repr(exc)
            if attempt == 0:
                continue
            break
        except Exception as exc:  # noqa: BLE001 - a timeout or a refused connection: recorded, not raised
            client.conn.close()
            client.conn = http.client.HTTPConnection("127.0.0.1", client.port, timeout=30)
            detail = repr(exc)
            break
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                client.cookies[name] = rest.split(";", 1)[0]
        status, text, hdrs, detail = response.status, payload.decode(errors="replace"), dict(response.getheaders()), ""
        break
    rec.add(Answer(sent, what, status, time.perf_counter() - started, detail))
    return status, text, hdrs


def sign_in(port: int, email: str) -> Client:
    client = Client(port)
    client.sign_in(email)
    return client


def signed_in(client: Client, rec: Recorder, what: str = "signed-in page") -> bool:
    """True when the client's session still works (the profile page answers 200, not a redirect)."""
    status, _, _ = timed(client, rec, what, "GET", "/accounts/profile/")
    return status == 200


def book(client: Client, rec: Recorder, code: str) -> int | None:
    """The real booking flow (form, review, confirm); the new booking's id, or None."""
    status, page, _ = timed(client, rec, "booking form", "GET", f"/trips/{code}/book/")
    fields = booking_form(page) if status == 200 else None
    if not fields:
        return None
    data = {**fields, "travellers": "1", "step": "review", "csrfmiddlewaretoken": csrf_token(page)}
    status, page, _ = timed(client, rec, "booking review", "POST", f"/trips/{code}/book/", data)
    hidden = hidden_fields(page)
    if status != 200 or hidden.get("step") != "confirm":
        return None
    hidden["csrfmiddlewaretoken"] = csrf_token(page)
    status, _, headers = timed(client, rec, "booking confirm", "POST", f"/trips/{code}/book/", hidden)
    match = re.match(r"^/bookings/(\d+)/$", urllib.parse.urlsplit(headers.get("Location", "")).path)
    return int(match.group(1)) if status == 302 and match else None


def comment(client: Client, rec: Recorder, task_id: str, body: str) -> bool:
    status, page, _ = timed(client, rec, "task page", "GET", f"/tasks/{task_id}/")
    if status != 200:
        return False
    status, _, _ = timed(client, rec, "comment", "POST", f"/tasks/{task_id}/comments/",
                         {"body": body, "csrfmiddlewaretoken": csrf_token(page)})  # fmt: skip
    return status == 302


def move(client: Client, rec: Recorder, task_id: str, rng: random.Random, versions: dict[str, int]) -> bool:
    """Move a card to another column (a task outbox event). The task page is read only when
    the card's version is not known yet or a move was refused (as a board keeps its state)."""
    statuses = ["backlog", "todo", "in_progress", "in_review", "done"]
    if task_id not in versions:
        status, page, _ = timed(client, rec, "task page", "GET", f"/tasks/{task_id}/")
        version = VERSION_RE.search(page)
        if status != 200 or not version:
            return False
        versions[task_id] = int(version.group(1))
    data = {"status": rng.choice(statuses), "version": str(versions[task_id]), "next": "detail"}
    status, _, _ = timed(client, rec, "move card", "POST", f"/tasks/{task_id}/move/", data)
    if status == 302:
        versions[task_id] += 1
        return True
    versions.pop(task_id, None)  # refused (stale version, same column): read it again
    return False


def public_paths(rng: random.Random, codes: list[str]) -> list[tuple[str, str]]:
    return [
        ("home", "/"),
        ("catalogue", f"/trips/?page={rng.randint(1, 5)}"),
        ("search", f"/trips/?q={urllib.parse.quote(rng.choice(EXACT_QUERIES))}"),
        ("trip page", f"/trips/{rng.choice(codes)}/"),
        ("sign-in page", "/accounts/login/"),
    ]


class Loop(threading.Thread):
    """Runs `body(i)` over and over (with a pause) until stopped; for probes during a fault."""

    def __init__(self, body: Any, pause: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.body, self.pause = body, pause
        self.stopped = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        i = 0
        while not self.stopped.is_set():
            try:
                self.body(i)
            except Exception as exc:  # noqa: BLE001 - keep probing; remember the first problem
                self.error = self.error or exc
            i += 1
            self.stopped.wait(self.pause)

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=60)
