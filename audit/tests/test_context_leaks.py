"""No context leaks: 2,000 requests through the real middleware and the connection pool.

Users alternate on every request, a tenth of the requests raise mid-request (some in
a transaction, some after a buggy view switched the context to an admin and never
switched it back), and several threads share the pool. Every query Django runs on
the way — session and user loading, the context middleware's own statements, the
view's queries — is checked against the context of the request it belongs to: it may
run with no context or with its own request's, never with another request's.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import pytest
from django.db import close_old_connections, connections
from django.test import Client

from accounts.models import User
from audit.tests.leak_urls import CONTEXT_SQL, LEAKY
from taskforge.dbcontext import DbContext, db_context
from taskforge.testing.personas import person_create

THREADS = 4
PER_THREAD = 500  # 2,000 requests in all
EMPTY = ("", "", "", "", "")


@dataclass(frozen=True)
class Expected:
    n: int
    ctx: tuple[str, str, str, str, str]
    raises: str = ""


class Recorder:
    """An execute wrapper: before each query, read the context the connection carries."""

    def __init__(self) -> None:
        self.local = threading.local()
        self.violations: list[str] = []
        self.checked = 0
        self.pids: set[int] = set()
        self.lock = threading.Lock()

    def __call__(self, execute, sql, params, many, context):
        current: Expected | None = getattr(self.local, "current", None)
        raw = context["connection"].connection
        if current is not None and raw is not None and raw.info.transaction_status != 3:  # 3 = INERROR
            row = raw.execute(CONTEXT_SQL).fetchone()
            seen = tuple(value or "" for value in row[:5])
            allowed = {EMPTY, current.ctx}
            if current.raises == "leaky":
                allowed.add(tuple(getattr(LEAKY, k) for k in ("user_id", "role", "ip", "user_agent", "request_id")))
            with self.lock:
                self.checked += 1
                self.pids.add(row[5])
                if seen not in allowed:
                    self.violations.append(f"request {current.n} ran {sql[:60]!r} with {seen}, expected {current.ctx}")
        return execute(sql, params, many, context)


@pytest.mark.slow
@pytest.mark.urls("audit.tests.leak_urls")
def test_no_context_leaks_across_2000_pooled_requests(committed_db) -> None:
    admin = User.objects.create_superuser("leak-admin@example.com", "correct-horse-battery")
    with db_context(DbContext(user_id=str(admin.pk), role="system")):
        traveller = User.objects.create_user("leak-traveller@example.com", "correct-horse-battery")
        staff = person_create("staff", "leak-staff@example.com", "correct-horse-battery")
    people = [traveller, staff, admin, None]  # None: anonymous
    recorder = Recorder()
    responses: list[tuple[Expected, int, dict | None]] = []
    errors: list[BaseException] = []
    close_old_connections()

    def run(thread: int) -> None:
        clients = []
        for person in people:
            client = Client(raise_request_exception=False)
            if person is not None:
                client.force_login(person)
            clients.append(client)
        close_old_connections()
        with connections["default"].execute_wrapper(recorder):
            for i in range(PER_THREAD):
                n = thread * PER_THREAD + i
                person = people[n % len(people)]  # a different user on every request
                ip, agent, rid = f"10.{thread}.{i // 250}.{i % 250 + 1}", f"leak-agent-{n}", f"leak-req-{n:06d}"
                raises = ("atomic", "leaky")[(n // 10) % 2] if n % 10 == 9 else ""
                ctx = (str(person.pk), "user", ip, agent, rid) if person else ("", "", ip, agent, rid)
                expected = Expected(n, ctx, raises)
                recorder.local.current = expected
                response = clients[n % len(people)].get(
                    "/_leak/probe/",
                    {"raise": raises} if raises else {},
                    REMOTE_ADDR=ip,
                    HTTP_USER_AGENT=agent,
                    HTTP_X_REQUEST_ID=rid,
                )
                # What a WSGI server does after every response: give the connection back to the pool.
                close_old_connections()
                recorder.local.current = None
                body = response.json() if response.status_code == 200 else None
                responses.append((expected, response.status_code, body))

    def guarded(thread: int) -> None:
        try:
            run(thread)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connections.close_all()

    request_logger = logging.getLogger("django.request")
    level = request_logger.level
    request_logger.setLevel(logging.CRITICAL)  # 200 expected 500s: keep the log readable
    try:
        threads = [threading.Thread(target=guarded, args=(t,)) for t in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        request_logger.setLevel(level)
    assert not errors, errors
    assert len(responses) == THREADS * PER_THREAD == 2000
    assert recorder.violations == [], recorder.violations[:10]
    assert recorder.checked > 4000  # every query of every request was checked, not just the view's
    assert len(recorder.pids) > 1  # the requests really went through several pooled connections
    raised = [r for r in responses if r[0].raises]
    assert len(raised) == 200 and all(status == 500 for _, status, _ in raised)
    for expected, status, body in responses:
        if expected.raises:
            continue
        assert status == 200 and tuple(body["ctx"]) == expected.ctx, (expected, body)
        assert (body["audit_visible"] > 0) == (expected.ctx[0] == str(admin.pk)), (expected, body)  # site admin
