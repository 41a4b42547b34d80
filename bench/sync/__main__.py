"""Outbox relay benchmark: `.venv/bin/python -m bench.sync [--events 100000] [--seconds 60] [--rate 200]`.

Runs against a scratch stack, never the dev data: a PostgreSQL database
`bench_taskforge_sync` (created and migrated as the owner role, used as the app role,
dropped at the end unless --keep), its own SecantusDB on a free port, and Celery queues
prefixed `bench_sync_` on the normal RabbitMQ. The relay runs in real `celery worker`
processes (one pool process each), with the driver playing beat (a `sync.relay_sweep`
every 5 s, as taskforge/schedule.py does).

For 1 and then 2 workers it measures:

* catch-up after an outage: with the document server stopped, --events probe events
  accumulate in the outbox (bulk-inserted, as many writes would leave them); the server
  comes back and the clock runs until the relay has applied them all (events/s);
* steady load: writer processes call the real service (`sync.probe.probe_save`: one
  transaction with the row and its outbox event, fast path through the `sync.relay_event`
  job) at --rate writes/s for --seconds; lag = applied_at - created_at of every event
  (database clock), reported as p50/p95/p99.

After each run, the stores are checked: every event applied, one document and one
projection row per probe, and `sync_reconcile` finds zero drift.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from taskforge.testing.docserver import docserver_argv, stop_docserver, wait_for_ping

ROOT = Path(__file__).resolve().parents[2]
DB_NAME = "bench_taskforge_sync"
PREFIX = "bench_sync_"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _url(cfg: dict[str, Any], name: str) -> str:
    from urllib.parse import quote

    auth = quote(cfg["USER"]) + (f":{quote(cfg['PASSWORD'])}" if cfg.get("PASSWORD") else "")
    return f"postgres://{auth}@{cfg.get('HOST') or '127.0.0.1'}:{cfg.get('PORT') or 5432}/{name}"


# --- orchestration (parent process: real settings, scratch resources) -------------------------


class DocServer:
    def __init__(self) -> None:
        self.port = _free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="bench-sync-docs-"))
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/bench_sync"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            docserver_argv(self.port, self.dir / "data"), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
        )
        wait_for_ping(self.port, self.proc)

    def stop(self) -> None:
        stop_docserver(self.proc)
        self.proc = None


def _create_database() -> dict[str, str]:
    """Create the scratch database as the owner; return the env that points a process at it."""
    import django
    import psycopg

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "taskforge.settings")
    django.setup()
    from django.conf import settings

    owner = settings.DATABASE_OWNER
    app = settings.DATABASES["default"] if settings.DJANGO_DB_ROLE == "app" else None
    if app is None:
        raise SystemExit("run the benchmark with DJANGO_DB_ROLE unset (the app role)")
    with psycopg.connect(
        host=owner.get("HOST") or None, port=owner.get("PORT") or None, user=owner["USER"],
        password=owner.get("PASSWORD") or None, dbname="postgres", autocommit=True,
    ) as pg:  # fmt: skip
        pg.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        pg.execute(f'CREATE DATABASE "{DB_NAME}"')
        pg.execute(f'GRANT CONNECT ON DATABASE "{DB_NAME}" TO "{app["USER"]}"')
    return {"DATABASE_URL": _url(app, DB_NAME), "DATABASE_OWNER_URL": _url(owner, DB_NAME)}


def _drop_database() -> None:
    import psycopg
    from django.conf import settings

    owner = settings.DATABASE_OWNER
    with psycopg.connect(
        host=owner.get("HOST") or None, port=owner.get("PORT") or None, user=owner["USER"],
        password=owner.get("PASSWORD") or None, dbname="postgres", autocommit=True,
    ) as pg:  # fmt: skip
        pg.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')


def orchestrate(args: argparse.Namespace) -> None:
    env_db = _create_database()
    env = {
        **os.environ,
        **env_db,
        "CELERY_QUEUE_PREFIX": PREFIX,
        "CACHE_KEY_PREFIX": "bench_sync",
        "LOG_LEVEL": "WARNING",
        "DB_POOL_MAX": "4",
    }
    try:
        print(f"[bench.sync] scratch database {DB_NAME}; migrating ...", flush=True)
        subprocess.run(
            [sys.executable, "manage.py", "migrate_stores", "-v", "0"],
            cwd=ROOT, env={**env, "DJANGO_DB_ROLE": "owner"}, check=True,
        )  # fmt: skip
        subprocess.run(
            [sys.executable, "-m", "bench.sync", "--drive", "--events", str(args.events),
             "--seconds", str(args.seconds), "--rate", str(args.rate), "--workers", args.workers,
             *(["--only", args.only] if args.only else [])],
            cwd=ROOT, env=env, check=True,
        )  # fmt: skip
    finally:
        if not args.keep:
            _drop_database()


# --- the driver (child process: bench settings) -----------------------------------------------


class Workers:
    def __init__(self, count: int) -> None:
        self.count = count
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs: list[Path] = []

    def start(self, env_extra: dict[str, str] | None = None) -> None:
        for n in range(self.count):
            log = Path(tempfile.mkstemp(prefix=f"bench-sync-worker{n}-", suffix=".log")[1])
            self.logs.append(log)
            self.procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "celery",
                        "-A",
                        "taskforge",
                        "worker",
                        "-Q",
                        f"{PREFIX}sync",
                        "-c",
                        "1",
                        "-l",
                        "INFO",
                        "--without-heartbeat",
                        "--without-gossip",
                        "--without-mingle",
                        "-n",
                        f"bench-sync-{n}@%h",
                    ],
                    cwd=ROOT,
                    env={**os.environ, **(env_extra or {})},
                    stdout=open(log, "ab"),
                    stderr=subprocess.STDOUT,
                )  # fmt: skip
            )
        deadline = time.monotonic() + 60
        for log in self.logs:
            while b"ready." not in log.read_bytes():
                if time.monotonic() > deadline:
                    raise RuntimeError("worker did not start:\n" + log.read_text(errors="replace")[-2000:])
                time.sleep(0.2)

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        for log in self.logs:
            log.unlink(missing_ok=True)
        self.procs, self.logs = [], []


def _purge() -> None:
    from taskforge.celery import app

    with app.connection_for_write() as conn:
        for queue in app.conf.task_queues:
            try:
                queue.bind(conn.default_channel).purge()
            except Exception:  # noqa: BLE001, S110 - a queue not declared yet is empty
                pass


def _reset_stores() -> None:
    from django.db import connection

    from sync.probe import probe_collection

    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM outbox_event; DELETE FROM sync_probe; DELETE FROM sync_probe_search")
    probe_collection().drop()
    _purge()


def _pending() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM outbox_event WHERE status = 'pending'")
        return cursor.fetchone()[0]


def _beat_until_drained(timeout: float, first_kick: int = 1) -> float:
    """Play beat (a sweep every 5 s; `first_kick` sweeps at once) until nothing is pending."""
    from sync.relay import relay_sweep_task as relay_sweep

    started = time.monotonic()
    for _ in range(first_kick):
        relay_sweep.delay()
    next_beat = started + 5
    while _pending():
        now = time.monotonic()
        if now - started > timeout:
            raise RuntimeError(f"not drained in {timeout:.0f} s: {_pending()} pending")
        if now >= next_beat:
            relay_sweep.delay()
            next_beat += 5
        time.sleep(0.05)
    return time.monotonic() - started


def _verify(expected_probes: int) -> str:
    from django.db import connection

    from sync.probe import probe_collection
    from sync.reconcile import outbox_reconcile

    with connection.cursor() as cursor:
        cursor.execute("SELECT status, count(*), max(attempts) FROM outbox_event GROUP BY status")
        statuses = {s: (n, a) for s, n, a in cursor.fetchall()}
        cursor.execute("SELECT count(*) FROM sync_probe_search")
        projection = cursor.fetchone()[0]
    docs = probe_collection().count_documents({})
    started = time.monotonic()
    (report,) = outbox_reconcile(aggregate_types=["probe"])
    took = time.monotonic() - started
    ok = set(statuses) == {"applied"} and docs == projection == expected_probes and report.drift == 0
    verdict = "OK" if ok else "MISMATCH"
    return (
        f"{verdict}: events {statuses}, documents {docs}, projection rows {projection}, "
        f"reconcile drift {report.drift} ({took:.1f} s to reconcile {report.source} probes)"
    )


def _lag() -> dict[str, float]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY lag_ms), max(lag_ms), "
            "EXTRACT(EPOCH FROM max(applied_at) - min(created_at)) FROM outbox_event WHERE status = 'applied'"
        )
        count, (p50, p95, p99), lag_max, span = cursor.fetchone()
    return {"count": count, "p50": p50, "p95": p95, "p99": p99, "max": lag_max, "span": float(span or 0)}


def _load() -> str:
    """The machine's 1-minute load average: other processes compete for the same CPUs."""
    return f"load {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"


def catch_up(workers: int, events: int, docs: DocServer) -> dict[str, Any]:
    from django.db import connection

    _reset_stores()
    docs.stop()  # the outage
    pool = Workers(workers)
    pool.start()
    try:
        with connection.cursor() as cursor:
            # What `events` service writes leave behind while MongoDB is down: rows + pending events.
            cursor.execute(
                "WITH p AS (INSERT INTO sync_probe (name, version, updated_at) "
                "SELECT 'bench-' || g, 1, now() FROM generate_series(1, %s) g RETURNING id, name) "
                "INSERT INTO outbox_event (aggregate_type, aggregate_id, version, event_type, payload, created_at, "
                "status, attempts, next_attempt_at, last_error, locked_by) "
                "SELECT 'probe', p.id::text, 1, 'probe.upserted', jsonb_build_object('name', p.name, "
                "'deleted', false), clock_timestamp(), 'pending', 0, clock_timestamp(), '', '' FROM p ORDER BY p.id",
                [events],
            )
            cursor.execute("ANALYZE outbox_event")
        docs.start()
        took = _beat_until_drained(timeout=max(600, events / 50), first_kick=workers)
    finally:
        pool.stop()
    return {
        "workers": workers, "events": events, "seconds": took, "rate": events / took, "verify": _verify(events),
        "load": _load(),
    }  # fmt: skip


WRITER = """
import os, sys, time
import django
django.setup()
from sync.probe import probe_save
rate, seconds, name = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
interval, start, n, late = 1.0 / rate, time.monotonic(), 0, 0
while True:
    due = start + n * interval
    if due - start >= seconds:
        break
    now = time.monotonic()
    if due > now:
        time.sleep(due - now)
    elif now - due > 0.05:
        late += 1
    probe_save(name=f"{name}-{n}")
    n += 1
print(f"{n} {time.monotonic() - start:.3f} {late}")
"""


def steady(workers: int, rate: float, seconds: float) -> dict[str, Any]:
    from sync.relay import relay_sweep_task as relay_sweep

    _reset_stores()
    pool = Workers(workers)
    pool.start()
    writers_n = 4
    try:
        env = {**os.environ, "OUTBOX_FAST_PATH": "celery", "DJANGO_SETTINGS_MODULE": "taskforge.settings"}
        writers = [
            subprocess.Popen(
                [sys.executable, "-c", WRITER, str(rate / writers_n), str(seconds), f"w{i}"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                text=True,
            )  # fmt: skip
            for i in range(writers_n)
        ]
        started = time.monotonic()
        next_beat = started + 5
        while any(w.poll() is None for w in writers):
            if time.monotonic() >= next_beat:
                relay_sweep.delay()  # beat's guarantee sweep runs alongside the fast path
                next_beat += 5
            time.sleep(0.05)
        outputs = [w.communicate()[0].split() for w in writers]
        written = sum(int(o[0]) for o in outputs)
        wall = max(float(o[1]) for o in outputs)
        late = sum(int(o[2]) for o in outputs)
        _beat_until_drained(timeout=120)
    finally:
        pool.stop()
    lag = _lag()
    return {
        "workers": workers,
        "writes": written,
        "write_rate": written / wall,
        "late_writes": late,
        "applied_rate": lag["count"] / lag["span"] if lag["span"] else 0.0,
        "lag": lag,
        "verify": _verify(written),
        "load": _load(),
    }


def drive(args: argparse.Namespace) -> None:
    docs = DocServer()  # the driver's own, so it can stop and start it
    docs.start()
    os.environ["MONGODB_URI"] = docs.uri  # before Django reads its settings; the workers inherit it
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "taskforge.settings")
    import django

    django.setup()
    counts = [int(n) for n in args.workers.split(",")]
    print(f"[bench.sync] {os.cpu_count()} CPUs; batch {os.environ.get('OUTBOX_BATCH_SIZE', '500')} events", flush=True)
    results: list[str] = []
    try:
        for workers in counts if args.only != "steady" else ():
            r = catch_up(workers, args.events, docs)
            line = (
                f"catch-up after outage, {workers} worker(s): {r['events']:,} events in {r['seconds']:.1f} s "
                f"= {r['rate']:,.0f} events/s ({r['load']}) -- {r['verify']}"
            )
            print(line, flush=True)
            results.append(line)
        for workers in counts if args.only != "catch-up" else ():
            r = steady(workers, args.rate, args.seconds)
            lag = r["lag"]
            line = (
                f"steady load, {workers} worker(s): {r['writes']:,} writes at {r['write_rate']:.0f}/s "
                f"({r['late_writes']} started >50 ms late), applied {r['applied_rate']:.0f}/s; "
                f"lag p50 {lag['p50']:.0f} ms, p95 {lag['p95']:.0f} ms, p99 {lag['p99']:.0f} ms, "
                f"max {lag['max']} ms ({r['load']}) -- {r['verify']}"
            )
            print(line, flush=True)
            results.append(line)
    finally:
        _purge()
        docs.stop()
        shutil.rmtree(docs.dir, ignore_errors=True)
    print("\n[bench.sync] summary")
    for line in results:
        print("  " + line)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.sync", description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000, help="events in the catch-up backlog")
    parser.add_argument("--seconds", type=float, default=60.0, help="duration of each steady-load run")
    parser.add_argument("--rate", type=float, default=200.0, help="writes per second in the steady-load runs")
    parser.add_argument("--workers", default="1,2", help="worker counts to run, e.g. 1,2")
    parser.add_argument("--only", choices=("catch-up", "steady"), help="run one of the two measurements")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database afterwards")
    parser.add_argument("--drive", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.drive:
        drive(args)
    else:
        orchestrate(args)


if __name__ == "__main__":
    main()
