"""Load, soak and fault figures for the whole site (issue 10).

    .venv/bin/python -m bench.load [--scale 1] [--soak-seconds 600] [--fault-seconds 60] ...
    (the same as `.venv/bin/python -m bench` and `make bench`)

1. Data: a dedicated PostgreSQL database `bench_taskforge_load` (never the dev or test
   database), a private SecantusDB and a private redis-server: 100,000 trips, 1,000,000
   bookings, 10 teams x (2,000 tasks + 20,000 comments) at --scale 1, made by the
   generators of bench.catalogue and bench.tasks (bench/load/data.py). The data are kept
   in var/bench/load/ and reused by the next run of the same scale (--fresh re-makes them,
   --drop removes them at the end).
2. Stack: gunicorn -c deploy/gunicorn.conf.py on a free loopback port with
   bench.load.settings (the site + /bench/constant/), a Celery worker on the bench queues
   (prefix bench_load_), and the frequent beat entries (relay sweep, audit seal, email
   sweep) played by the harness (bench/load/stack.py).
3. Load: locust, headless, one process per step (bench/load/locustfile.py): 60% anonymous
   catalogue and search, 25% travellers signing in, booking and cancelling, 15% staff on
   boards, comments and notifications.
4. Figures: capacity (user count stepped up while p95 < 300 ms and 0 errors) beside the
   constant page's throughput on the same server (the framework ceiling); the soak at 70%
   of capacity (errors, RSS per worker, outbox lag p99); faults under load (Redis, the
   document server, the Celery worker, a PostgreSQL connection). Printed as a table and
   stored in bench/results/<timestamp>.md and .json with the machine's description.

Every process started is stopped at the end, also on Ctrl-C (`--cleanup` stops the
leftovers of a run that was killed with SIGKILL).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DB_NAME = "bench_taskforge_load"
PREFIX = "bench_load_"
DATA_VERSION = 1  # bump when the generators change what they make
FAULT_NAMES = ["redis", "docserver", "worker", "postgres"]


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--scale", type=float, default=1.0, help="data size factor (1 = the issue's sizes; 0.01 quick)")
    p.add_argument("--fresh", action="store_true", help="re-make the bench data even if a kept set matches")
    p.add_argument("--drop", action="store_true", help="drop the bench database and documents at the end")
    p.add_argument("--step-seconds", type=float, default=30, help="duration of each capacity step")
    p.add_argument("--start-users", type=int, default=4, help="users of the first capacity step")
    p.add_argument("--step-factor", type=float, default=1.5, help="users x this at each step")
    p.add_argument("--max-users", type=int, default=400)
    p.add_argument("--think", type=float, default=0.5, help="mixed traffic: wait uniform(0, THINK) s between requests")
    p.add_argument("--soak-seconds", type=float, default=600)
    p.add_argument("--soak-fraction", type=float, default=0.7, help="soak throughput as a share of capacity")
    p.add_argument("--soak-recycle", action="store_true",
                   help="keep gunicorn's worker recycling (max_requests) during the soak")  # fmt: skip
    p.add_argument("--fault-seconds", type=float, default=60, help="how long each fault lasts")
    p.add_argument("--fault-load", type=float, default=0.5, help="background load during faults, share of capacity")
    p.add_argument("--converge-seconds", type=float, default=60, help="document server: convergence limit")
    p.add_argument("--pg-drops", type=int, default=3, help="PostgreSQL connections to terminate")
    p.add_argument("--faults", default=",".join(FAULT_NAMES), help="which faults, comma separated ('' for none)")
    p.add_argument("--skip-soak", action="store_true")
    p.add_argument(
        "--pool-check",
        action="store_true",
        help="experiment: psycopg_pool checks a connection before handing it out (not the deployed config)",
    )
    p.add_argument("--locust-processes", type=int, default=1, help="locust worker processes (--processes)")
    p.add_argument("--cleanup", action="store_true", help="stop processes left by a killed run, then exit")
    p.add_argument("--drive", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--seed", choices=["catalogue", "teams"], help=argparse.SUPPRESS)
    p.add_argument("--roster-file", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.fault_list = [f.strip() for f in args.faults.split(",") if f.strip()]
    unknown = set(args.fault_list) - set(FAULT_NAMES)
    if unknown:
        p.error(f"unknown fault(s) {sorted(unknown)}; choose from {FAULT_NAMES}")
    if args.scale <= 0 or args.scale > 10:
        p.error("--scale must be in (0, 10]")
    return args


def _url(cfg: dict[str, Any], name: str) -> str:
    q = urllib.parse.quote
    auth = q(cfg["USER"]) + (f":{q(cfg['PASSWORD'])}" if cfg.get("PASSWORD") else "")
    return f"postgres://{auth}@{cfg.get('HOST') or '127.0.0.1'}:{cfg.get('PORT') or 5432}/{name}"


def _pg(cfg: dict[str, Any], dbname: str) -> Any:
    import psycopg

    return psycopg.connect(
        host=cfg.get("HOST") or None, port=cfg.get("PORT") or None, user=cfg["USER"],
        password=cfg.get("PASSWORD") or None, dbname=dbname, autocommit=True,
    )  # fmt: skip


# --- orchestration (parent: the site's settings, only to read credentials) ------------------------


def orchestrate(args: argparse.Namespace, argv: list[str]) -> int:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "taskforge.settings")
    django.setup()
    from django.conf import settings

    from bench.load import data
    from bench.load.stack import STATE_DIR, free_port

    if settings.DJANGO_DB_ROLE != "app":
        raise SystemExit("run the benchmark with DJANGO_DB_ROLE unset (the app role)")
    owner, app = settings.DATABASE_OWNER, settings.DATABASES["default"]
    backup, superuser = settings.DATABASE_BACKUP, settings.DATABASE_SUPERUSER
    docs_dir = STATE_DIR / "docserver"
    wanted = {"version": DATA_VERSION, "scale": args.scale}
    reuse = False
    if not args.fresh and docs_dir.exists():
        try:
            with _pg(owner, DB_NAME) as pg:
                marker = data.marker_read(pg)
            reuse = bool(marker) and all(marker.get(k) == v for k, v in wanted.items())
        except Exception:  # noqa: BLE001 - no database yet
            reuse = False
    if not reuse:
        print(f"[bench.load] creating the bench database {DB_NAME} (scale {args.scale})", flush=True)
        with _pg(owner, "postgres") as pg:
            pg.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
            pg.execute(f'CREATE DATABASE "{DB_NAME}"')
            for role in {app["USER"], backup["USER"]}:
                pg.execute(f'GRANT CONNECT ON DATABASE "{DB_NAME}" TO "{role}"')
        shutil.rmtree(STATE_DIR, ignore_errors=True)
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    run_dir = STATE_DIR / "run"
    shutil.rmtree(run_dir, ignore_errors=True)
    (run_dir / "mail").mkdir(parents=True)
    (run_dir / "prometheus").mkdir(parents=True)
    redis_port, docs_port, web_port = free_port(), free_port(), free_port()
    # Nothing of the surrounding stack may leak in (a replica URL would point at the dev data).
    dropped = {"DATABASE_REPLICA_URL", "DATABASE_REPORTS_URL", "CELERY_RESULT_BACKEND", "RUNTIME_DIRECTORY",
               "GUNICORN_CONTROL_SOCKET", "GUNICORN_BIND", "DJANGO_DB_ROLE", "DATABASE_TEST_NAME"}  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update({
        "DJANGO_SETTINGS_MODULE": "bench.load.settings",
        "DJANGO_SETTINGS_PROFILE": "dev",  # prod would redirect plain HTTP to HTTPS
        "DJANGO_DEBUG": "false",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SITE_URL": f"http://127.0.0.1:{web_port}",
        "DATABASE_URL": _url(app, DB_NAME),
        "DATABASE_OWNER_URL": _url(owner, DB_NAME),
        "DATABASE_BACKUP_URL": _url(backup, DB_NAME),
        "DATABASE_SUPERUSER_URL": _url(superuser, DB_NAME),
        "MONGODB_URI": f"mongodb://127.0.0.1:{docs_port}/bench_load",
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "CACHE_KEY_PREFIX": PREFIX.rstrip("_"),
        "CELERY_QUEUE_PREFIX": PREFIX,
        "MEDIA_ROOT": str(STATE_DIR / "media"),
        "BACKUP_DIR": str(run_dir / "backups"),
        # Four slashes: django-environ drops the first one of an absolute path.
        "EMAIL_URL": f"filemail:///{run_dir / 'mail'}",
        "PROMETHEUS_MULTIPROC_DIR": str(run_dir / "prometheus"),
        "LOG_LEVEL": "WARNING",
        "BENCH_REDIS_PORT": str(redis_port),
        "BENCH_DOCS_PORT": str(docs_port),
        "BENCH_WEB_PORT": str(web_port),
        "BENCH_PG_PORT": str(app.get("PORT") or 5432),
        "BENCH_APP_ROLE": app["USER"],
        "BENCH_REUSE": "1" if reuse else "0",
        "BENCH_POOL_CHECK": "true" if args.pool_check else "false",
    })  # fmt: skip
    child = subprocess.Popen([sys.executable, "-m", "bench.load", "--drive", *argv], cwd=ROOT, env=env)
    try:
        code = child.wait()
    except KeyboardInterrupt:
        print("\n[bench.load] interrupted: stopping the bench stack ...", flush=True)
        try:
            code = child.wait(timeout=120)
        except subprocess.TimeoutExpired:
            child.kill()
            code = 130
    finally:
        if args.drop:
            with _pg(owner, "postgres") as pg:
                pg.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
            shutil.rmtree(STATE_DIR, ignore_errors=True)
            print(f"[bench.load] dropped {DB_NAME} and {STATE_DIR.relative_to(ROOT)}", flush=True)
    return code


# --- seeding (children: owner role for the catalogue, app role for the teams) -------------------------


def seed(args: argparse.Namespace) -> int:
    import django

    django.setup()
    from bench.load import data

    if args.seed == "catalogue":
        data.seed_catalogue(args.scale)
    else:
        roster = data.seed_teams(args.scale)
        Path(args.roster_file).write_text(json.dumps(roster))
    return 0


# --- the driver (child: bench settings, app role) -------------------------------------------------------


def _sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _prepare_data(args: argparse.Namespace, env: dict[str, str]) -> list[dict[str, Any]]:
    from django.conf import settings

    from bench.load import data
    from bench.load.stack import RUN_DIR

    owner_env = {**env, "DJANGO_DB_ROLE": "owner"}
    started = time.monotonic()
    # Always migrate: a no-op when the kept database is current, and it follows new migrations.
    subprocess.run([sys.executable, "manage.py", "migrate_stores", "-v", "0"], cwd=ROOT, env=owner_env,
                   check=True)  # fmt: skip
    with _pg(settings.DATABASE_OWNER, DB_NAME) as pg:
        marker = data.marker_read(pg)
    if env.get("BENCH_REUSE") == "1" and marker and marker.get("roster"):
        print(f"[bench.load] reusing the kept bench data (scale {args.scale})", flush=True)
        return marker["roster"]
    size = data.sizes(args.scale)
    print(f"[bench.load] seeding: {size}", flush=True)
    scale = ["--scale", str(args.scale)]
    subprocess.run([sys.executable, "-m", "bench.load", "--seed", "catalogue", *scale], cwd=ROOT, env=owner_env,
                   check=True)  # fmt: skip
    roster_file = RUN_DIR / "roster.json"
    subprocess.run([sys.executable, "-m", "bench.load", "--seed", "teams", *scale, "--roster-file", str(roster_file)],
                   cwd=ROOT, env=env, check=True)  # fmt: skip
    roster = json.loads(roster_file.read_text())
    with _pg(settings.DATABASE_OWNER, DB_NAME) as pg:
        pg.execute("ANALYZE")
        data.marker_write(pg, {"version": DATA_VERSION, "scale": args.scale, "roster": roster, "sizes": size})
    print(f"[bench.load] data ready in {time.monotonic() - started:.0f} s", flush=True)
    return roster


def _purge_queues(delete: bool = False) -> None:
    """Empty (or remove, at the end) the bench's own queues (prefix bench_load_) on the broker."""
    from taskforge.celery import app

    with app.connection_for_write() as conn:
        for queue in app.conf.task_queues:
            assert queue.name.startswith(PREFIX), queue.name
            try:
                bound = queue.bind(conn.default_channel)
                bound.delete() if delete else bound.purge()
            except Exception:  # noqa: BLE001, S110 - a queue not declared yet is empty
                pass


def drive(args: argparse.Namespace) -> int:
    import django

    signal.signal(signal.SIGTERM, _sigterm)
    django.setup()
    import logging

    # The harness's own Celery client (it plays beat) would log every retry while the bench
    # Redis (the result backend) is stopped on purpose.
    logging.getLogger("celery.backends.redis").setLevel(logging.CRITICAL)
    from django.conf import settings
    from django.db import connection

    from bench.load import data, faults, phases, report
    from bench.load.stack import STATE_DIR, Beat, BenchRedis, DocServer, Registry, Web, Worker, describe_machine
    from taskforge.dbcontext import DbContext, context_set

    env = dict(os.environ)
    assert settings.DATABASES["default"]["NAME"] == DB_NAME, "the driver must run against the bench database"
    context_set(DbContext(role="system", user_agent="bench.load"))
    registry = Registry()
    beat = Beat()
    started = datetime.now(UTC).replace(microsecond=0)
    results: dict[str, Any] = {"started": started.isoformat().replace("+00:00", "Z"), "scale": args.scale,
                               "args": {k: v for k, v in vars(args).items() if k not in {"drive", "seed"}}}  # fmt: skip
    code = 0
    try:
        redis = BenchRedis(registry, env, int(env["BENCH_REDIS_PORT"]))
        redis.start()
        docs = DocServer(registry, env, int(env["BENCH_DOCS_PORT"]), STATE_DIR / "docserver")
        docs.start()
        roster = _prepare_data(args, env)
        _purge_queues()
        worker = Worker(registry, env, PREFIX)
        worker.start()
        beat.start()
        web = Web(registry, env, int(env["BENCH_WEB_PORT"]))
        web.start()
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            pg_version = cursor.fetchone()[0]
        results["machine"] = describe_machine(pg_version, redis.version())
        results["sizes"] = data.sizes(args.scale)
        if args.pool_check:
            results.setdefault("notes", []).append(
                "--pool-check: CONN_HEALTH_CHECKS on with the pool (an experiment, not the deployed settings)."
            )
        results["gunicorn"] = {"workers": len(web.workers()), "threads": int(env.get("GUNICORN_THREADS", "4") or 4),
                               "celery_concurrency": int(env.get("CELERY_WORKER_CONCURRENCY", "4") or 4)}  # fmt: skip
        ctx = phases.Ctx(args=args, env=env, registry=registry, web=web, worker=worker, redis=redis, docs=docs,
                         roster=roster, sizes=results["sizes"], db_name=DB_NAME,
                         superuser=settings.DATABASE_SUPERUSER)  # fmt: skip
        print(f"[bench.load] stack up: gunicorn {web.url} ({len(web.workers())} workers), redis :{redis.port}, "
              f"SecantusDB :{docs.port}, worker + beat on queues {PREFIX}*; warming up ...", flush=True)  # fmt: skip
        phases.LocustRun(ctx, "warm-up", mode="mixed", users=args.start_users, seconds=min(20, args.step_seconds),
                         wait=f"closed:{args.think}").run()  # fmt: skip
        print("[bench.load] framework ceiling: /bench/constant/", flush=True)
        results["ceiling"] = phases.capacity(ctx, mode="constant", think=0.0, label="constant")
        print("[bench.load] capacity: mixed traffic", flush=True)
        results["capacity"] = phases.capacity(ctx, mode="mixed", think=args.think, label="mixed")
        cap = results["capacity"]
        if not cap["best"]:
            # Nothing passed: the faults and the soak still run, at the first step's load.
            cap = {"best": cap["steps"][0]}
            results.setdefault("notes", []).append(
                "No capacity step met p95 < 300 ms with 0 errors; soak and faults ran at the first step's load."
            )
        if not args.skip_soak:
            print(f"[bench.load] soak: {args.soak_seconds:.0f} s at {args.soak_fraction:.0%} of capacity ...",
                  flush=True)  # fmt: skip
            try:
                results["soak"] = phases.soak(ctx, cap)
            except Exception as exc:  # noqa: BLE001 - report it, go on with the faults
                results["soak"] = {"pass": False, "error": repr(exc)}
        if args.fault_list:
            results["faults"] = faults.run_faults(ctx, cap, args.fault_list)
        results["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
        results.setdefault("notes", []).extend(ctx.notes)
        results["beat"] = {"sent": beat.sent, "errors": beat.errors}
        path = report.save(results)
        print()
        print(report.render(results))
        print(f"(stored in {path.relative_to(ROOT)} and {path.with_suffix('.json').relative_to(ROOT)})")
    except KeyboardInterrupt:
        print("\n[bench.load] interrupted", flush=True)
        code = 130
    except Exception:  # noqa: BLE001 - print it; the finally below still stops every process
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        beat.stop()
        registry.stop_all()
        try:
            _purge_queues(delete=True)
        except Exception as exc:  # noqa: BLE001 - the broker may be unreachable; nothing else to undo
            print(f"[bench.load] could not remove the bench queues: {exc}", flush=True)
        print("[bench.load] bench stack stopped", flush=True)
    return code


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse(argv)
    sys.path.insert(0, str(ROOT))
    os.chdir(ROOT)
    if args.cleanup:
        from bench.load.stack import cleanup_leftovers

        return cleanup_leftovers()
    if args.seed:
        return seed(args)
    if args.drive:
        return drive(args)
    return orchestrate(args, [a for a in argv if a not in ("--drop",)])


if __name__ == "__main__":
    sys.exit(main())
