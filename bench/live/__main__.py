"""Live-events benchmark: `.venv/bin/python -m bench.live [--streams 200] [--moves 40] [--idle 30] [--keep]`.

Runs against a scratch stack, never the dev data: a PostgreSQL database
`bench_taskforge_live` (created and migrated as the owner role, used as the app role,
dropped at the end unless --keep) and its own Redis key prefix. The live service runs as in
production (uvicorn, live.asgi, one process) on a free port.

--streams board streams are opened (20 team members, each with a real signed-in session,
several tabs each) and then:

* fan-out latency: the driver moves a card --moves times through the real service
  (tasks.services.task_move: one transaction, published on commit); the clock starts in an
  on_commit callback registered before the service's own, and stops when the event's
  bytes arrive on each stream (the same process's monotonic clock): p50/p95/p99/max over
  streams x moves;
* memory per open stream: the live process's RSS with 1 stream open, and with all of them
  (difference / streams);
* CPU of idle streams: the live process's CPU time over --idle seconds with every stream
  open and no events (heartbeats every LIVE_HEARTBEAT_SECONDS with their access re-check).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DB_NAME = "bench_taskforge_live"
PREFIX = "bench_live_"
MEMBERS = 20


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _url(cfg: dict[str, Any], name: str) -> str:
    auth = urllib.parse.quote(cfg["USER"]) + (f":{urllib.parse.quote(cfg['PASSWORD'])}" if cfg.get("PASSWORD") else "")
    return f"postgres://{auth}@{cfg.get('HOST') or '127.0.0.1'}:{cfg.get('PORT') or 5432}/{name}"


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


# --- orchestration (parent: real settings, scratch resources) ------------------------------------


def orchestrate(args: argparse.Namespace) -> None:
    from django.conf import settings

    with _owner_connect("postgres") as pg:
        if settings.DJANGO_DB_ROLE != "app":
            raise SystemExit("run the benchmark with DJANGO_DB_ROLE unset (the app role)")
        app = settings.DATABASES["default"]
        pg.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        pg.execute(f'CREATE DATABASE "{DB_NAME}"')
        pg.execute(f'GRANT CONNECT ON DATABASE "{DB_NAME}" TO "{app["USER"]}"')
    env = {
        **os.environ,
        "DATABASE_URL": _url(app, DB_NAME),
        "DATABASE_OWNER_URL": _url(settings.DATABASE_OWNER, DB_NAME),
        "CACHE_KEY_PREFIX": PREFIX,
        "CELERY_QUEUE_PREFIX": PREFIX,
        "LOG_LEVEL": "WARNING",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "EMAIL_URL": "consolemail://",
    }
    try:
        print(f"[bench.live] scratch database {DB_NAME}; migrating ...", flush=True)
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=ROOT, env={**env, "DJANGO_DB_ROLE": "owner"}, check=True,
        )  # fmt: skip
        subprocess.run(
            [sys.executable, "-m", "bench.live", "--drive", "--streams", str(args.streams),
             "--moves", str(args.moves), "--idle", str(args.idle)],
            cwd=ROOT, env=env, check=True,
        )  # fmt: skip
    finally:
        if not args.keep:
            with _owner_connect("postgres") as pg:
                pg.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')


# --- driver (child: bench settings) ----------------------------------------------------------------


def _setup_people() -> tuple[Any, Any, Any, list[str]]:
    """(admin, team, task, one session cookie per member) — real sign-ins through the middleware."""
    from django.conf import settings
    from django.test import Client

    from accounts.models import Membership, Team
    from taskforge.dbcontext import context_for_system, db_context
    from taskforge.testing.personas import acting, person_create
    from tasks import services

    stamp = time.time_ns()
    admin = person_create("member", f"live-admin-{stamp}@example.com")
    members = [person_create("member", f"live-{i:02d}-{stamp}@example.com") for i in range(MEMBERS)]
    with db_context(context_for_system("bench.live setup")):
        team = Team.objects.create(name="Live bench", slug=f"live-{stamp}")
        Membership.objects.create(team=team, user=admin, role="admin")
        Membership.objects.bulk_create([Membership(team=team, user=m, role="member") for m in members])
    with acting(admin):
        task = services.task_create(actor=admin, team_id=team.id, title="Bounce", status="todo")
    cookies = []
    for member in members:
        client = Client()
        client.force_login(member)
        client.get("/")  # the session middleware indexes the session, as after a real sign-in
        cookies.append(client.cookies[settings.SESSION_COOKIE_NAME].value)
    return admin, team, task, cookies


class Stream:
    def __init__(self) -> None:
        self.arrivals: dict[int, float] = {}  # task version -> monotonic arrival
        self.open = asyncio.Event()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def run(self, port: int, path: str, cookie: str) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", port)
        self.writer.write(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
            f"Cookie: sessionid={cookie}\r\n\r\n".encode()
        )
        await self.writer.drain()
        status = await self.reader.readline()
        if b" 200 " not in status:
            raise RuntimeError(f"stream refused: {status!r}")
        while (await self.reader.readline()) not in (b"\r\n", b""):
            pass
        self.open.set()
        while True:
            line = await self.reader.readline()
            if not line:
                return
            # chunked framing lines are hex sizes; event lines carry the data
            if line.startswith(b"data: "):
                now = time.monotonic()
                event = json.loads(line[6:])
                if event.get("type") == "task.moved":
                    self.arrivals[event["version"]] = now

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def _drive(args: argparse.Namespace) -> None:
    import psutil
    from django.db import transaction

    from taskforge.testing.personas import acting
    from tasks import services

    admin, team, task, cookies = await asyncio.to_thread(_setup_people)
    port = _free_port()
    log = open(Path("/tmp") / f"bench-live-{port}.log", "ab")  # noqa: S108 - a scratch log, printed on failure
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "live.asgi:application", "--host", "127.0.0.1", "--port", str(port),
         "--lifespan", "off", "--no-access-log"],
        cwd=ROOT, env=os.environ, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    streams: list[Stream] = []
    tasks: list[asyncio.Task[None]] = []
    try:
        for _ in range(150):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                await asyncio.sleep(0.1)
        live = psutil.Process(proc.pid)
        path = f"/events/board/{team.id}/"

        def open_streams(n: int) -> None:
            for _ in range(n):
                stream = Stream()
                streams.append(stream)
                tasks.append(asyncio.create_task(stream.run(port, path, cookies[len(streams) % len(cookies)])))

        open_streams(1)
        await asyncio.wait_for(streams[0].open.wait(), 10)
        await asyncio.sleep(1)
        rss_one = live.memory_info().rss
        open_streams(args.streams - 1)
        await asyncio.wait_for(asyncio.gather(*(s.open.wait() for s in streams)), 60)
        await asyncio.sleep(2)
        rss_all = live.memory_info().rss
        threads = live.num_threads()
        print(f"[bench.live] {len(streams)} streams open; live process: {threads} threads", flush=True)

        # --- fan-out latency -------------------------------------------------------------
        committed: dict[int, float] = {}
        version = task.version

        def move(status: str, expected: int) -> int:
            with transaction.atomic():
                transaction.on_commit(lambda: committed.__setitem__(expected + 1, time.monotonic()))
                with acting(admin):
                    moved, _ = services.task_move(
                        actor=admin, task_id=task.id, status=status, expected_version=expected
                    )
            return moved.version

        for n in range(args.moves):
            version = await asyncio.to_thread(move, "in_progress" if n % 2 == 0 else "todo", version)
            await asyncio.sleep(0.25)
        await asyncio.sleep(1.5)
        latencies, missing = [], 0
        for stream in streams:
            for v, t0 in committed.items():
                if v in stream.arrivals:
                    latencies.append((stream.arrivals[v] - t0) * 1000)
                else:
                    missing += 1
        print(
            f"fan-out latency, commit -> event on each of {len(streams)} streams, {args.moves} moves "
            f"({len(latencies)} deliveries, {missing} missing):\n"
            f"  p50 {_pct(latencies, 50):.1f} ms   p95 {_pct(latencies, 95):.1f} ms   "
            f"p99 {_pct(latencies, 99):.1f} ms   max {max(latencies):.1f} ms   mean {statistics.mean(latencies):.1f} ms"
        )
        print(
            f"memory: live process RSS {rss_one / 2**20:.1f} MiB with 1 stream, {rss_all / 2**20:.1f} MiB with "
            f"{len(streams)} -> {(rss_all - rss_one) / (len(streams) - 1) / 1024:.1f} KiB per open stream"
        )

        # --- CPU of idle streams -------------------------------------------------------------------
        await asyncio.sleep(1)
        before = live.cpu_times()
        started = time.monotonic()
        await asyncio.sleep(args.idle)
        after = live.cpu_times()
        elapsed = time.monotonic() - started
        cpu = (after.user - before.user) + (after.system - before.system)
        print(
            f"idle CPU: {cpu:.2f} s of CPU in {elapsed:.0f} s with {len(streams)} idle streams = "
            f"{100 * cpu / elapsed:.2f} % of one core ({1000 * cpu / elapsed / len(streams):.3f} ms/s per stream; "
            f"heartbeat every {os.environ.get('LIVE_HEARTBEAT_SECONDS', '15')} s with an access re-check)"
        )
    finally:
        for stream in streams:
            stream.close()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        proc.terminate()
        proc.wait(timeout=15)


def drive(args: argparse.Namespace) -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "taskforge.settings")
    django.setup()
    asyncio.run(_drive(args))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.live", description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--moves", type=int, default=40)
    parser.add_argument("--idle", type=int, default=30, help="seconds of idle CPU measurement")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--drive", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.streams < 2:
        parser.error("--streams must be at least 2")
    if args.drive:
        drive(args)
    else:
        orchestrate(args)


if __name__ == "__main__":
    main()
