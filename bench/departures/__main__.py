"""Departure benchmark: `.venv/bin/python -m bench.departures [--rounds 5] [--clients 50] [--offers 10] [--keep]`.

Runs against a scratch stack, never the dev data (the pattern of bench/tasks): a PostgreSQL
database `bench_taskforge_departures` (created and migrated as the owner role, served as the
app role, dropped at the end unless --keep), its own SecantusDB on a free port, its own Redis
key prefix and Celery queues. The site runs in gunicorn with deploy/gunicorn.conf.py, and a
`celery worker` serves the bench queues, as deploy/ runs it.

Two figures (issue 20, "Measure"):

1. Booking creation p95 at --clients clients against one departure with 10 seats left.
   A trip (made through trip_create, outbox applied) gets --rounds departures of 40 seats,
   30 of them already booked through the booking service. Each round, --clients travellers,
   each signed in through the login form and holding the booking form's CSRF token, POST
   the booking form (step=confirm, 1 traveller) at the same instant (a barrier). 10 get a
   booking (302), the rest the form's refusal (4xx). Afterwards the bench asserts there is
   no overbooking: seats_taken == the travellers of the live bookings == capacity, and
   exactly 10 requests succeeded per round.
2. The time from a cancellation to the first waiting-list offer. On the first (full)
   departure, --offers travellers join the waiting list (1 traveller each, the service).
   Then, one at a time, a traveller who won a seat cancels through the cancellation form
   (POST); the service queues the offer round on commit (`waitlist_offers` on the
   notifications queue), the worker runs it. Measured server-side as
   entry.offered_at - booking.cancelled_at, and client-side as the time from sending the
   cancellation to seeing the offer in the database (polled every 5 ms).
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import io
import os
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
import uuid
from pathlib import Path
from typing import Any

from taskforge.testing.docserver import docserver_argv, stop_docserver, wait_for_ping

ROOT = Path(__file__).resolve().parents[2]
DB_NAME = "bench_taskforge_departures"
PREFIX = "bench_departures_"
PASSWORD = "bench-pass-2026"  # noqa: S105 - scratch accounts of a throwaway database
CAPACITY = 40
TAKEN = 30  # 10 seats left
TRIP_CODE = "BENCH-DEP"


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


def _quantiles(values: list[float]) -> dict[str, float]:
    values = sorted(values)
    if len(values) < 2:
        return {"n": len(values), "p50": values[0] if values else 0, "p95": values[0] if values else 0,
                "max": values[-1] if values else 0}  # fmt: skip
    q = statistics.quantiles(values, n=100, method="inclusive")
    return {"n": len(values), "p50": q[49], "p95": q[94], "max": values[-1]}


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
    docs_dir = Path(tempfile.mkdtemp(prefix="bench-departures-docs-"))
    docs_port = _free_port()
    docs = subprocess.Popen(
        docserver_argv(docs_port, docs_dir / "data"), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    media = Path(tempfile.mkdtemp(prefix="bench-departures-media-"))
    env = {
        **os.environ,
        "DATABASE_URL": _url(app, DB_NAME),
        "DATABASE_OWNER_URL": _url(settings.DATABASE_OWNER, DB_NAME),
        "MONGODB_URI": f"mongodb://127.0.0.1:{docs_port}/bench_departures",
        "CACHE_KEY_PREFIX": PREFIX,
        "CELERY_QUEUE_PREFIX": PREFIX,
        "MEDIA_ROOT": str(media),
        "LOG_LEVEL": "WARNING",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
    }
    try:
        wait_for_ping(docs_port, docs)
        print(f"[bench.departures] scratch database {DB_NAME}, document server on :{docs_port}; migrating ...",
              flush=True)  # fmt: skip
        subprocess.run(
            [sys.executable, "manage.py", "migrate_stores", "-v", "0"],
            cwd=ROOT, env={**env, "DJANGO_DB_ROLE": "owner"}, check=True,
        )  # fmt: skip
        subprocess.run(
            [sys.executable, "-m", "bench.departures", "--drive", "--rounds", str(args.rounds),
             "--clients", str(args.clients), "--offers", str(args.offers)],
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


def generate(args: argparse.Namespace) -> dict[str, Any]:
    """The trip, its departures (10 seats left each), the racing travellers and the waiters."""
    from django.contrib.auth.hashers import make_password
    from django.utils import timezone

    from accounts.models import User
    from bookings import services
    from bookings.images import demo_image_bytes, trip_image_store
    from bookings.models import Departure
    from bookings.services.departures import departure_add
    from sync.relay import relay_sweep
    from taskforge.testing.personas import acting, person_create

    started = time.monotonic()
    editor = person_create("catalogue_editor", email="bench-editor@example.com")
    filler = person_create("traveller", email="bench-filler@example.com")
    racers = [person_create("traveller", email=f"racer{i:02d}@example.com") for i in range(args.clients)]
    waiters = [person_create("traveller", email=f"waiter{i:02d}@example.com") for i in range(args.offers)]
    User.objects.filter(pk__in=[u.pk for u in racers + waiters + [filler]]).update(
        password=make_password(PASSWORD), email_verified=True
    )
    first = timezone.localdate() + dt.timedelta(days=60)
    content = services.TripContentInput(
        name="Bench departures", resort="Crete", description_md="A trip for the departures benchmark.",
        keywords=["bench"], itinerary=[{"day": 1, "title": "Arrive", "details": ""}],
    )  # fmt: skip
    with acting(editor):
        trip = services.trip_create(
            actor=editor, code=TRIP_CODE, content=content, start=first, length_days=7, price_minor=100_000,
            currency="GBP", seats=CAPACITY, image=trip_image_store(io.BytesIO(demo_image_bytes(1, "bench"))),
        )  # fmt: skip
        for r in range(1, args.rounds):
            departure_add(actor=editor, trip_code=TRIP_CODE, date=first + dt.timedelta(days=7 * r),
                                   seats=CAPACITY)  # fmt: skip
    relay_sweep()  # the trip document and the catalogue projection, as the outbox relay writes them
    departures = list(Departure.objects.filter(trip=trip).order_by("date"))
    with acting(filler):
        for departure in departures:
            for _ in range(TAKEN):
                services.booking_create(
                    actor=filler, trip_code=TRIP_CODE, travel_date=departure.date, travellers=1,
                    idempotency_key=uuid.uuid4(), expected_total_minor=trip.price_minor,
                )  # fmt: skip
    print(f"[bench.departures] data: trip {TRIP_CODE}, {len(departures)} departures of {CAPACITY} seats with "
          f"{TAKEN} booked, {len(racers)} racing travellers, {len(waiters)} waiters in "
          f"{time.monotonic() - started:.1f} s", flush=True)  # fmt: skip
    return {"trip": trip, "departures": departures, "racers": racers, "waiters": waiters}


# --- HTTP clients -----------------------------------------------------------------------------------------


class Client:
    """One signed-in browser: cookies, a keep-alive connection, the CSRF token."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}
        self.token = ""
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def request(self, method: str, path: str, body: dict[str, str] | None = None) -> tuple[int, bytes, float]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()), "User-Agent": "bench.departures"}
        data = None
        if body is not None:
            data = urllib.parse.urlencode({"csrfmiddlewaretoken": self.token, **body})
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
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                if attempt:
                    raise
        elapsed = time.perf_counter() - started
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name] = rest.split(";", 1)[0]
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', payload)
        if token:
            self.token = token.group(1).decode()
        return response.status, payload, elapsed

    def sign_in(self, email: str) -> None:
        status, _, _ = self.request("GET", "/accounts/login/")
        if status != 200 or not self.token:
            raise RuntimeError(f"login page: {status}")
        status, _, _ = self.request("POST", "/accounts/login/", {"email": email, "password": PASSWORD, "next": "/"})
        if status != 302:
            raise RuntimeError(f"sign-in of {email} answered {status}")


def race(clients: list[Client], departure: Any, price: int) -> list[tuple[int, float]]:
    """Every client POSTs the booking form at once. Returns (status, seconds) per client."""
    results: list[tuple[int, float]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(clients))
    path = f"/trips/{TRIP_CODE}/book/"

    def worker(client: Client) -> None:
        # The booking form, as the traveller opens it (fresh CSRF token), then the confirmation.
        client.request("GET", f"{path}?travel_date={departure.date.isoformat()}")
        body = {"travel_date": departure.date.isoformat(), "travellers": "1", "expected_total": str(price),
                "idempotency_key": str(uuid.uuid4()), "step": "confirm"}  # fmt: skip
        barrier.wait()
        try:
            status, _, elapsed = client.request("POST", path, body)
        except OSError:
            status, elapsed = 0, 0.0
        with lock:
            results.append((status, elapsed))

    threads = [threading.Thread(target=worker, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def drive(args: argparse.Namespace) -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "taskforge.settings")
    django.setup()
    from django.db.models import Sum

    from bookings.models import Booking, BookingStatus, Departure, WaitlistEntry, WaitlistStatus
    from bookings.services.waitlist import waitlist_join
    from taskforge.dbcontext import context_for_system, db_context
    from taskforge.testing.personas import acting

    data = generate(args)
    trip, departures, racers, waiters = data["trip"], data["departures"], data["racers"], data["waiters"]
    port = _free_port()
    run_dir = Path(tempfile.mkdtemp(prefix="bench-departures-run-"))
    env = {**os.environ, "GUNICORN_BIND": f"127.0.0.1:{port}", "LOG_LEVEL": "WARNING"}
    web = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "--access-logfile", "/dev/null"],
        cwd=ROOT, env=env, stdout=open(run_dir / "gunicorn.log", "ab"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    queues = ",".join(f"{PREFIX}{q}" for q in ("default", "notifications", "sync", "backups"))
    worker_log = run_dir / "worker.log"
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "taskforge", "worker", "-Q", queues, "--concurrency", "2",
         "--hostname", "bench-departures@%h", "--loglevel", "INFO", "--without-gossip", "--without-mingle"],
        cwd=ROOT, env=env, stdout=open(worker_log, "ab"), stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    ok = False
    try:
        _wait_port(port, web, "gunicorn")
        deadline = time.monotonic() + 90
        while b"ready." not in worker_log.read_bytes():
            if time.monotonic() > deadline or worker.poll() is not None:
                raise RuntimeError("celery worker did not start")
            time.sleep(0.3)
        clients = []
        for user in racers:
            client = Client(port)
            client.sign_in(user.email)
            clients.append(client)
        by_client = dict(zip((u.pk for u in racers), clients, strict=True))
        # Warm-up: every client opens the trip page and the booking form once (workers, pools, caches).
        for client in clients:
            client.request("GET", f"/trips/{TRIP_CODE}/")
        print(f"[bench.departures] gunicorn (deploy/gunicorn.conf.py) on :{port}, celery worker on {queues}, "
              f"{len(clients)} clients signed in", flush=True)  # fmt: skip

        # 1. Booking creation: one round per departure, all clients at once, 10 seats left.
        times_ok, times_refused, statuses, problems = [], [], {}, []
        for departure in departures:
            results = race(clients, departure, trip.price_minor)
            for status, elapsed in results:
                statuses[status] = statuses.get(status, 0) + 1
                (times_ok if status == 302 else times_refused).append(elapsed)
            won = sum(1 for s, _ in results if s == 302)
            with db_context(context_for_system("bench.departures")):
                row = Departure.objects.get(pk=departure.pk)
                live = (
                    Booking.objects.filter(departure=departure)
                    .exclude(status=BookingStatus.CANCELLED)
                    .aggregate(n=Sum("travellers"))["n"]
                )
            if not (row.seats_taken == live == row.capacity and won == CAPACITY - TAKEN):
                problems.append(f"departure {departure.date}: taken {row.seats_taken}, live travellers {live}, "
                                f"capacity {row.capacity}, successful requests {won}")  # fmt: skip
        if problems:
            raise SystemExit("OVERBOOKING or lost bookings:\n" + "\n".join(problems))
        every = times_ok + times_refused

        # 2. Cancellation -> first waiting-list offer, on the first departure (now full).
        departure = departures[0]
        entries = []
        for waiter in waiters:
            with acting(waiter):
                entries.append(waitlist_join(actor=waiter, trip_code=TRIP_CODE, travel_date=departure.date,
                                                      travellers=1))  # fmt: skip
        with db_context(context_for_system("bench.departures")):
            winners = list(
                Booking.objects.filter(departure=departure, user_id__in=by_client, status=BookingStatus.PENDING)
                .order_by("id")
                .values_list("pk", "user_id")
            )
        server, client_seen = [], []
        for entry, (booking_id, user_id) in zip(entries, winners, strict=False):
            client = by_client[user_id]
            client.request("GET", f"/bookings/{booking_id}/cancel/")
            sent = time.perf_counter()
            status, _, _ = client.request("POST", f"/bookings/{booking_id}/cancel/", {})
            if status != 302:
                raise SystemExit(f"cancelling booking {booking_id} answered {status}")
            deadline = time.monotonic() + 60
            with db_context(context_for_system("bench.departures")):
                while True:
                    offered = WaitlistEntry.objects.filter(pk=entry.pk, status=WaitlistStatus.OFFERED).first()
                    if offered is not None:
                        client_seen.append(time.perf_counter() - sent)
                        cancelled_at = Booking.objects.values_list("cancelled_at", flat=True).get(pk=booking_id)
                        server.append((offered.offered_at - cancelled_at).total_seconds())
                        break
                    if time.monotonic() > deadline:
                        raise SystemExit(f"no offer for entry {entry.pk} within 60 s of the cancellation")
                    time.sleep(0.005)
            with db_context(context_for_system("bench.departures")):
                row = Departure.objects.get(pk=departure.pk)
            if row.seats_taken + row.seats_held > row.capacity:
                raise SystemExit(f"seats held twice: {row.seats_taken} taken + {row.seats_held} held")

        print()
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"TaskForge departures benchmark: {len(clients)} clients x {len(departures)} rounds, one departure with "
              f"{CAPACITY - TAKEN} seats left per round, {os.cpu_count()} CPUs (load average {load}: other work on "
              f"the machine inflates these figures)")  # fmt: skip
        print(f"statuses: {dict(sorted(statuses.items()))}")
        print(f"{'booking POST':<28} {'n':>4} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
        for label, values in (("all requests", every), ("booked (302)", times_ok), ("refused (full)", times_refused)):
            q = _quantiles(values)
            print(f"{label:<28} {q['n']:>4} {q['p50'] * 1000:>8.1f} {q['p95'] * 1000:>8.1f} {q['max'] * 1000:>8.1f}")
        print(f"No overbooking: every departure ends with seats_taken == live travellers == capacity "
              f"({CAPACITY}), exactly {CAPACITY - TAKEN} bookings per round.")  # fmt: skip
        print(f"{'cancellation -> first offer':<28} {'n':>4} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
        for label, values in (("server (offered - cancelled)", server), ("client (POST -> offer seen)", client_seen)):
            q = _quantiles(values)
            print(f"{label:<28} {q['n']:>4} {q['p50'] * 1000:>8.1f} {q['p95'] * 1000:>8.1f} {q['max'] * 1000:>8.1f}")
        ok = True
    finally:
        web.terminate()
        try:
            os.killpg(worker.pid, 15)
        except ProcessLookupError:
            pass
        for proc in (web, worker):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        if ok:
            shutil.rmtree(run_dir, ignore_errors=True)
        else:
            print(f"[bench.departures] logs kept: {run_dir}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="departures raced for (one round each)")
    parser.add_argument("--clients", type=int, default=50, help="concurrent signed-in travellers")
    parser.add_argument("--offers", type=int, default=10, help="cancellation -> offer samples (at most 10)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database afterwards")
    parser.add_argument("--drive", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.clients < CAPACITY - TAKEN or not 1 <= args.offers <= CAPACITY - TAKEN or args.rounds < 1:
        parser.error(f"use at least {CAPACITY - TAKEN} clients, 1 to {CAPACITY - TAKEN} offers, 1 round or more")
    sys.path.insert(0, str(ROOT))
    os.chdir(ROOT)
    if args.drive:
        drive(args)
    else:
        orchestrate(args)


if __name__ == "__main__":
    main()
