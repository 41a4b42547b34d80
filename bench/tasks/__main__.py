"""Board and list benchmark: `.venv/bin/python -m bench.tasks [--seconds 30] [--clients 20] [--keep]`.

Runs against a scratch stack, never the dev data: a PostgreSQL database
`bench_taskforge_tasks` (created and migrated as the owner role, served as the app role,
dropped at the end unless --keep), its own SecantusDB on a free port and its own Redis key
prefix. The data: one team with 2,000 tasks (all statuses, priorities, due dates, tags;
detail documents and search rows as the outbox would have left them) and 20,000
comments, written with batched multi-row INSERTs (COPY cannot target a table under
row-level security) and MongoDB insert_many.

The site runs in gunicorn with deploy/gunicorn.conf.py (workers/threads from its
defaults or the GUNICORN_* environment). Each of --clients threads signs in as its own
team member through the login form, then requests the board, the list and a task's page
in turn (list pages, sorts and filters vary; the task is a random one of the team's)
over a keep-alive connection:

* closed loop: every client sends its next request as soon as the last one answered
  (the server is saturated; latency = queueing + work);
* paced: every client sends about one request per second (20 clients -> ~20 requests/s,
  i.e. 20 people clicking around at once).

With --api each client also lists the tasks through `GET /api/v1/tasks/` with its own
personal access token (the same filters and sorts), for the API-against-page comparison.

Prints p50/p95/p99/max per page and mode, throughput and errors. The SQL query count per
page is guarded separately by tasks/tests/test_board_list.py (constant in the number of tasks).
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any

from taskforge.testing.docserver import docserver_argv, stop_docserver, wait_for_ping

ROOT = Path(__file__).resolve().parents[2]
DB_NAME = "bench_taskforge_tasks"
PREFIX = "bench_tasks_"
PASSWORD = "bench-pass-2026"  # noqa: S105 - scratch accounts of a throwaway database
TASKS = 2000
COMMENTS = 20000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _url(cfg: dict[str, Any], name: str) -> str:
    auth = urllib.parse.quote(cfg["USER"]) + (f":{urllib.parse.quote(cfg['PASSWORD'])}" if cfg.get("PASSWORD") else "")
    return f"postgres://{auth}@{cfg.get('HOST') or '127.0.0.1'}:{cfg.get('PORT') or 5432}/{name}"


def _wait_port(port: int, proc: subprocess.Popen[bytes], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not start on port {port}")


# --- orchestration (parent: real settings, scratch resources) ------------------------------------


def _owner_connect(dbname: str):
    import django
    import psycopg

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "taskforge.settings")
    django.setup()
    from django.conf import settings

    owner = settings.DATABASE_OWNER
    return psycopg.connect(
        host=owner.get("HOST") or None, port=owner.get("PORT") or None, user=owner["USER"],
        password=owner.get("PASSWORD") or None, dbname=dbname, autocommit=True,
    )  # fmt: skip


def orchestrate(args: argparse.Namespace) -> None:
    from django.conf import settings

    with _owner_connect("postgres") as pg:
        if settings.DJANGO_DB_ROLE != "app":
            raise SystemExit("run the benchmark with DJANGO_DB_ROLE unset (the app role)")
        app = settings.DATABASES["default"]
        pg.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        pg.execute(f'CREATE DATABASE "{DB_NAME}"')
        pg.execute(f'GRANT CONNECT ON DATABASE "{DB_NAME}" TO "{app["USER"]}"')
    docs_dir = Path(tempfile.mkdtemp(prefix="bench-tasks-docs-"))
    docs_port = _free_port()
    docs = subprocess.Popen(
        docserver_argv(docs_port, docs_dir / "data"), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    media = Path(tempfile.mkdtemp(prefix="bench-tasks-media-"))
    env = {
        **os.environ,
        "DATABASE_URL": _url(app, DB_NAME),
        "DATABASE_OWNER_URL": _url(settings.DATABASE_OWNER, DB_NAME),
        "MONGODB_URI": f"mongodb://127.0.0.1:{docs_port}/bench_tasks",
        "CACHE_KEY_PREFIX": PREFIX,
        "CELERY_QUEUE_PREFIX": PREFIX,
        "MEDIA_ROOT": str(media),
        "LOG_LEVEL": "WARNING",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "API_IP_RATE": "100000/minute",  # every client is 127.0.0.1
    }
    try:
        wait_for_ping(docs_port, docs)
        print(f"[bench.tasks] scratch database {DB_NAME}, document server on :{docs_port}; migrating ...", flush=True)
        subprocess.run(
            [sys.executable, "manage.py", "migrate_stores", "-v", "0"],
            cwd=ROOT, env={**env, "DJANGO_DB_ROLE": "owner"}, check=True,
        )  # fmt: skip
        subprocess.run(
            [sys.executable, "-m", "bench.tasks", "--drive", "--seconds", str(args.seconds),
             "--clients", str(args.clients), *(["--api"] if args.api else [])],
            cwd=ROOT, env=env, check=True,
        )  # fmt: skip
    finally:
        stop_docserver(docs)
        shutil.rmtree(docs_dir, ignore_errors=True)
        shutil.rmtree(media, ignore_errors=True)
        if not args.keep:
            with _owner_connect("postgres") as pg:
                pg.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')


# --- data (child: bench settings) -------------------------------------------------------------------


WORDS = (
    "backup disk restore replica index vacuum certificate rotate queue worker cache redis session "
    "booking trip invoice report alert dashboard deploy release migrate schema audit policy token "
    "latency timeout retry outage incident runbook review nginx gunicorn celery beat digest email"
).split()


def _sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize()


TASK_IDS: list[str] = []  # filled by generate(): the task pages the clients open


def generate(clients: int) -> tuple[int, list[str]]:
    """Create the team, its members, 2,000 tasks and 20,000 comments. Returns (team id, emails)."""
    import datetime as dt
    import json
    import uuid

    from bson import ObjectId
    from django.contrib.auth.hashers import make_password
    from django.db import connection, transaction
    from django.utils import timezone

    from accounts.models import Membership, Team, User
    from taskforge.mongo import documents_collection
    from tasks.models import TaskComment, TaskDetail

    rng = random.Random(7)
    started = time.monotonic()
    password = make_password(PASSWORD)
    emails = [f"bench{i:02d}@example.com" for i in range(max(clients, 1))]
    users = User.objects.bulk_create(
        [User(email="bench-admin@example.com", password=password, display_name="Bench Admin",
              email_verified=True)]
        + [User(email=e, password=password, display_name=f"Member {i:02d}", email_verified=True)
           for i, e in enumerate(emails)]
    )  # fmt: skip
    team = Team.objects.create(name="Bench", slug="bench", created_by=users[0])
    Membership.objects.bulk_create(
        [Membership(team=team, user=users[0], role="admin")]
        + [Membership(team=team, user=u, role="member") for u in users[1:]]
    )
    member_ids = [u.pk for u in users]
    statuses = ["backlog", "todo", "in_progress", "in_review", "done"]
    now = timezone.now()
    rows, docs, search = [], [], []
    for i in range(TASKS):
        task_id = uuid.uuid4()
        status = statuses[i % 5]
        created = now - dt.timedelta(days=rng.randint(0, 90), minutes=rng.randint(0, 1440))
        due = now + dt.timedelta(days=rng.randint(-10, 30)) if i % 3 else None
        title = _sentence(rng, rng.randint(3, 7))
        tags = rng.sample(WORDS[:12], k=rng.randint(0, 3))
        description = _sentence(rng, rng.randint(20, 60))
        rows.append((
            task_id, team.id, title, status, rng.choice(["low", "medium", "high", "urgent"]),
            rng.choice(member_ids + [None]), rng.choice(member_ids), due, created, created,
            created + dt.timedelta(days=2) if status == "done" else None, 1, 1,
        ))  # fmt: skip
        docs.append({"_id": str(task_id), "team_id": team.id, "version": 1, "title": title,
                     "description": description, "tags": tags, "custom_fields": {}, "attachments": [],
                     "deleted": False, "updated_at": now})  # fmt: skip
        search.append((str(task_id), team.id, title, description, json.dumps(tags), " ".join(tags)))
    with transaction.atomic(), connection.cursor() as cursor:
        # The data loader acts as the system (admin role), like manage.py seed_demo.
        cursor.execute("SELECT set_config('rls.role', 'system', true)")
        # COPY cannot target a table under row-level security (and the app role may not create
        # temporary tables): one batched INSERT per 500 rows instead.
        columns = ("id, team_id, title, status, priority, assignee_id, creator_id, due_at, created_at, updated_at, "
                   "done_at, version, detail_version")  # fmt: skip
        for start in range(0, len(rows), 500):
            chunk = rows[start : start + 500]
            placeholders = ", ".join(["(" + ", ".join(["%s"] * 13) + ")"] * len(chunk))
            cursor.execute(
                f"INSERT INTO tasks_task ({columns}) VALUES {placeholders}", [v for row in chunk for v in row]
            )
        cursor.executemany(
            "INSERT INTO tasks_task_search (task_id, team_id, version, title, body, tags, document, deleted) "
            "VALUES (%s, %s, 1, %s, %s, %s::jsonb, setweight(to_tsvector('english', %s), 'A') || "
            "setweight(to_tsvector('english', %s), 'B') || setweight(to_tsvector('english', %s), 'C'), false)",
            [(tid, tm, title, body, tags, title, tag_text, body) for tid, tm, title, body, tags, tag_text in search],
        )  # fmt: skip
        # The team's search vocabulary (typo correction), as the outbox handler keeps it.
        cursor.execute(
            "INSERT INTO tasks_search_word (team_id, word) SELECT DISTINCT s.team_id, w FROM tasks_task_search s, "
            "regexp_split_to_table(lower(s.title || ' ' || s.body || ' ' || (SELECT coalesce(string_agg(t, ' '), '') "
            "FROM jsonb_array_elements_text(s.tags) AS t)), '[^[:alnum:]]+') AS w "
            "WHERE s.team_id = %s AND length(w) BETWEEN 3 AND 60 ON CONFLICT DO NOTHING",
            [team.id],
        )  # fmt: skip
    documents_collection(TaskDetail).insert_many(docs, ordered=False)
    task_ids = [str(r[0]) for r in rows]
    TASK_IDS[:] = task_ids
    batch = []
    for n in range(COMMENTS):
        created = now - dt.timedelta(minutes=n)
        batch.append({"_id": ObjectId(), "task_id": task_ids[n % TASKS], "team_id": team.id,
                      "author_id": rng.choice(member_ids), "body": _sentence(rng, rng.randint(5, 25)),
                      "mentions": [], "attachments": [], "created_at": created, "edited_at": None,
                      "hidden": False})  # fmt: skip
        if len(batch) == 2000:
            documents_collection(TaskComment).insert_many(batch, ordered=False)
            batch = []
    if batch:
        documents_collection(TaskComment).insert_many(batch, ordered=False)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"[bench.tasks] data: {TASKS} tasks, {COMMENTS} comments, {len(users)} members "
          f"in {time.monotonic() - started:.1f} s", flush=True)  # fmt: skip
    return team.id, emails


# --- HTTP clients -----------------------------------------------------------------------------------------


class Client:
    """One signed-in browser: cookies, a keep-alive connection, CSRF token."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.token = ""

    def request(
        self, method: str, path: str, body: dict[str, str] | None = None, bearer: str = ""
    ) -> tuple[int, bytes, float]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()), "User-Agent": "bench.tasks"}
        if bearer:  # the API: a personal access token instead of the session
            headers = {"Authorization": f"Bearer {bearer}", "User-Agent": "bench.tasks"}
        data = None
        if body is not None:
            data = urllib.parse.urlencode(body)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Referer"] = f"http://127.0.0.1:{self.port}{path}"
        started = time.perf_counter()
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=data, headers=headers)
                response = self.conn.getresponse()
                payload = response.read()
                break
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                if attempt:
                    raise
        elapsed = time.perf_counter() - started
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name] = rest.split(";", 1)[0]
        return response.status, payload, elapsed

    def sign_in(self, email: str) -> None:
        status, page, _ = self.request("GET", "/accounts/login/")
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        if status != 200 or not token:
            raise RuntimeError(f"login page: {status}")
        status, _, _ = self.request(
            "POST",
            "/accounts/login/",
            {"csrfmiddlewaretoken": token.group(1).decode(), "email": email, "password": PASSWORD, "next": "/tasks/"},
        )
        if status != 302:
            raise RuntimeError(f"sign-in of {email} answered {status}")


def _paths(team_id: int, rng: random.Random) -> tuple[str, str]:
    board = f"/tasks/teams/{team_id}/board/"
    sort = rng.choice(["priority", "due", "-created", "title", "status"])
    extra = rng.choice(
        ["", "&status=todo", "&priority=urgent&priority=high", "&overdue=on", "&assignee=me", "&tag=cache"]
    )
    page = rng.randint(1, 20) if not extra else 1
    return board, f"/tasks/teams/{team_id}/list/?sort={sort}&page={page}{extra}"


KINDS = ["board", "list", "task"]  # --api adds "api": the same list through GET /api/v1/tasks/ with a token


def run_load(port: int, team_id: int, clients: list[Client], seconds: float, pace: float | None) -> dict[str, Any]:
    results: list[tuple[str, float, int]] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def worker(index: int, client: Client) -> None:
        rng = random.Random(index)
        local = []
        turn = index % len(KINDS)
        while time.monotonic() < stop_at:
            board, listing = _paths(team_id, rng)
            query = re.sub(r"&page=\d+", "", listing.split("?", 1)[1])  # the API pages by cursor
            paths = {"board": board, "list": listing, "task": f"/tasks/{rng.choice(TASK_IDS)}/",
                     "api": f"/api/v1/tasks/?team=bench&{query}"}  # fmt: skip
            kind = KINDS[turn]
            path = paths[kind]
            turn = (turn + 1) % len(KINDS)
            sent = time.monotonic()
            try:
                status, _, elapsed = client.request("GET", path, bearer=client.token if kind == "api" else "")
            except OSError:
                status, elapsed = 0, time.monotonic() - sent
            local.append((kind, elapsed, status))
            if pace:
                time.sleep(max(0.0, rng.uniform(0.5, 1.5) * pace - (time.monotonic() - sent)))
        with lock:
            results.extend(local)

    threads = [threading.Thread(target=worker, args=(i, c)) for i, c in enumerate(clients)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - started
    report: dict[str, Any] = {"requests": len(results), "throughput": len(results) / wall}
    for kind in KINDS:
        times = sorted(e for k, e, s in results if k == kind and s == 200)
        errors = sum(1 for k, _, s in results if k == kind and s != 200)
        if errors:  # say which answers, not only how many
            statuses = sorted({s for k, _, s in results if k == kind and s != 200})
            print(f"[bench.tasks] {kind}: {errors} answers were not 200 (statuses {statuses})", flush=True)
        if not times:
            report[kind] = {"n": 0, "errors": errors}
            continue
        q = statistics.quantiles(times, n=100, method="inclusive")
        report[kind] = {"n": len(times), "errors": errors, "p50": q[49] * 1000, "p95": q[94] * 1000,
                        "p99": q[98] * 1000, "max": times[-1] * 1000}  # fmt: skip
    return report


def _token_for(email: str) -> str:
    """A read token of the person (made through the same service as the profile page)."""
    from accounts.models import User
    from accounts.services.api_tokens import api_token_create
    from taskforge.dbcontext import DbContext, db_context

    with db_context(DbContext(role="system", user_agent="bench.tasks")):
        user = User.objects.get(email=email)
        return api_token_create(user=user, name="bench", scope="read").secret


def drive(args: argparse.Namespace) -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "taskforge.settings")
    django.setup()
    team_id, emails = generate(args.clients)
    port = _free_port()
    env = {**os.environ, "GUNICORN_BIND": f"127.0.0.1:{port}", "LOG_LEVEL": "WARNING"}
    log = Path(tempfile.mkdtemp(prefix="bench-tasks-web-")) / "gunicorn.log"
    web = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "--access-logfile", "/dev/null"],
        cwd=ROOT, env=env, stdout=open(log, "ab"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        _wait_port(port, web, "gunicorn")
        clients = []
        for email in emails[: args.clients]:
            client = Client(port)
            client.sign_in(email)
            if "api" in KINDS:
                client.token = _token_for(email)
            clients.append(client)
        warm = run_load(port, team_id, clients, 5, None)  # warm caches, pools and workers
        print(f"[bench.tasks] gunicorn (deploy/gunicorn.conf.py) on :{port}, {len(clients)} clients signed in; "
              f"warm-up {warm['requests']} requests", flush=True)  # fmt: skip
        rows = []
        for mode, pace in (("closed loop", None), ("paced 1/s", 1.0)):
            report = run_load(port, team_id, clients, args.seconds, pace)
            for kind in KINDS:
                r = report[kind]
                rows.append((mode, kind, r["n"], r.get("errors", 0), r.get("p50", 0), r.get("p95", 0), r.get("p99", 0),
                             r.get("max", 0), report["throughput"]))  # fmt: skip
        print()
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"TaskForge board/list/task benchmark: {TASKS} tasks, {COMMENTS} comments, {len(clients)} clients, "
              f"{args.seconds:.0f} s per mode, {os.cpu_count()} CPUs (load average {load}: other work on the "
              f"machine inflates these figures)")  # fmt: skip
        print(f"{'mode':<12} {'page':<6} {'requests':>8} {'errors':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
              f"{'max ms':>8} {'req/s (all)':>13}")  # fmt: skip
        for mode, kind, n, err, p50, p95, p99, mx, rps in rows:
            print(f"{mode:<12} {kind:<6} {n:>8} {err:>6} {p50:>8.1f} {p95:>8.1f} {p99:>8.1f} {mx:>8.1f} {rps:>13.1f}")
        for mode in ("closed loop", "paced 1/s"):
            worst = max(r[5] for r in rows if r[0] == mode)
            print(f"Target p95 < 200 ms, {mode}: worst p95 {worst:.1f} ms -> {'met' if worst < 200 else 'NOT met'}.")
    except BaseException:
        print(f"[bench.tasks] gunicorn log kept: {log}", flush=True)
        raise
    else:
        shutil.rmtree(log.parent, ignore_errors=True)
    finally:
        web.terminate()
        try:
            web.wait(timeout=20)
        except subprocess.TimeoutExpired:
            web.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="duration of each load mode")
    parser.add_argument("--clients", type=int, default=20, help="concurrent signed-in clients")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database afterwards")
    parser.add_argument("--api", action="store_true", help="also list the tasks through the API (with a token)")
    parser.add_argument("--drive", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    os.chdir(ROOT)
    if args.api:
        KINDS.append("api")
    if args.drive:
        drive(args)
    else:
        orchestrate(args)


if __name__ == "__main__":
    main()
