"""Catalogue and bookings benchmark: `.venv/bin/python -m bench.catalogue [options]`.

    --trips 100000 --bookings 1000000 --travellers 10000   data size (the defaults)
    --clients 20,50 --seconds 20                           closed-loop load per scenario
    --keep / --reuse                                       keep the scratch data / run on kept data

Runs against scratch resources, never the dev data: a PostgreSQL database
`bench_taskforge_catalogue` (created and migrated as the owner role, served as the app
role), its own SecantusDB and its own Redis key prefix. The data is written FAST: trips,
departures, the search projection and the bookings with set-based INSERT ... SELECT over
generate_series as the owner (audit triggers switched off for the load, RLS context
"admin" as the policies require), travellers with one bulk insert, the trip documents
with insert_many.

The site runs in gunicorn with deploy/gunicorn.conf.py. Each client thread signs in as
its own traveller through the login form and keeps one keep-alive connection. For each
concurrency and scenario the clients run a closed loop (next request as soon as the
last one answered) for --seconds, after a short warm-up:

* list:          /trips/ with a page (1-10), a sort and sometimes a filter
* search exact:  /trips/?q=<resort or theme word>      (ranked full text, ts_headline)
* search typo:   /trips/?q=<misspelt resort>           (no FTS hit -> vocabulary correction -> FTS)
* trip page:     /trips/<code>/                         (Trip + Departure + MongoDB document)
* my bookings:   /bookings/mine/                        (as a traveller, under RLS)
* book:          POST /trips/<code>/book/ step=confirm  (locks the departure row, inserts)

Then the RLS overhead: the exact My-bookings query of the ORM, for random travellers,
as the app role with the traveller's context (policy in force) against the backup role
(BYPASSRLS), interleaved, same connection settings. Prints p50/p95 per scenario and
concurrency, throughput, errors and the ratio.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
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
import uuid
from pathlib import Path
from typing import Any

from taskforge.testing.docserver import docserver_argv, stop_docserver, wait_for_ping

ROOT = Path(__file__).resolve().parents[2]
DB_NAME = "bench_taskforge_catalogue"
PREFIX = "bench_catalogue_"
STATE_DIR = ROOT / "var" / "bench" / "catalogue"
PASSWORD = "bench-pass-2026"  # noqa: S105 - scratch accounts of a throwaway database

RESORTS = [
    "Maldives", "Bali", "Swiss Alps", "Crete", "Kyoto", "Patagonia", "Kenya", "Iceland", "Costa Rica",
    "Amalfi Coast", "Lapland", "Santorini", "Tuscany", "Provence", "Algarve", "Mallorca", "Tenerife", "Dubrovnik",
    "Marrakech", "Cape Town", "Zanzibar", "Seychelles", "Mauritius", "Phuket", "Bora Bora", "Fiji", "Queenstown",
    "Banff", "Yosemite", "Havana", "Cusco", "Galapagos", "Rio de Janeiro", "Hanoi", "Siem Reap", "Rajasthan",
    "Kerala", "Sri Lanka", "Petra", "Cappadocia", "Lake Como", "Dolomites", "Norwegian Fjords",
    "Scottish Highlands", "Lofoten", "Azores", "Madeira", "Sardinia", "Sicily", "Corsica", "Bavaria", "Vienna",
    "Prague", "Budapest", "Istanbul", "Namib Desert", "Okavango", "Serengeti", "Tasmania", "Yucatan",
]  # fmt: skip
THEMES = [
    "Beach Escape", "Island Hopping", "Culture Tour", "Food Trail", "Walking Week", "Wildlife Safari",
    "Spa Retreat", "Family Holiday", "Adventure Trek", "City Break", "Sailing Week", "Wine Tour",
    "Photography Tour", "Rail Journey", "Ski Week",
]  # fmt: skip
ADJECTIVES = ["Classic", "Luxury", "Hidden", "Grand", "Essential", "Slow", "Wild", "Secret", "Ultimate", "Budget"]
KEYWORDS = [
    "beach", "snorkelling", "diving", "hiking", "temples", "food", "wine", "wildlife", "safari", "spa", "yoga",
    "culture", "history", "mountains", "lakes", "islands", "sailing", "photography", "rail", "ski", "family",
    "honeymoon", "nightlife", "markets", "architecture", "volcanoes", "glaciers", "rainforest", "desert", "surf",
]  # fmt: skip
EXACT_QUERIES = ["maldives", "safari", "tuscany", "kyoto temples", "island hopping", "ski", "bali", "wine tour"]
TYPO_QUERIES = ["maldeves", "tuscanny", "patagnia", "zanzibr", "seychels", "maurtius", "dolomits", "cappadoccia"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _url(cfg: dict[str, Any], name: str) -> str:
    auth = urllib.parse.quote(cfg["USER"]) + (f":{urllib.parse.quote(cfg['PASSWORD'])}" if cfg.get("PASSWORD") else "")
    return f"postgres://{auth}@{cfg.get('HOST') or '127.0.0.1'}:{cfg.get('PORT') or 5432}/{name}"


def _wait_port(port: int, proc: subprocess.Popen[bytes], what: str, timeout: float = 60) -> None:
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


def _django() -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "taskforge.settings")
    django.setup()


def _pg(cfg: dict[str, Any], dbname: str, **kwargs: Any):
    import psycopg

    return psycopg.connect(
        host=cfg.get("HOST") or None, port=cfg.get("PORT") or None, user=cfg["USER"],
        password=cfg.get("PASSWORD") or None, dbname=dbname, **kwargs,
    )  # fmt: skip


# --- orchestration (parent: real settings, scratch resources) ---------------------------------------


def _start_docserver(docs_dir: Path) -> tuple[int, subprocess.Popen[bytes]]:
    """SecantusDB on a free port (retried: another process may take the port meanwhile)."""
    for _attempt in range(3):
        port = _free_port()
        proc = subprocess.Popen(
            docserver_argv(port, docs_dir / "data"), stdout=open(docs_dir / "docs.out", "ab"), stderr=subprocess.STDOUT
        )
        try:
            wait_for_ping(port, proc)
            return port, proc
        except RuntimeError:
            stop_docserver(proc)
    raise RuntimeError(f"SecantusDB did not start; see {docs_dir / 'docs.out'}")


def _seeded(owner: dict[str, Any], args: argparse.Namespace) -> bool:
    import psycopg

    try:
        with _pg(owner, DB_NAME, autocommit=True) as pg:
            row = pg.execute("SELECT value FROM bench_marker WHERE key = 'size'").fetchone()
    except psycopg.Error:
        return False
    return bool(row) and row[0] == f"{args.trips}/{args.bookings}/{args.travellers}"


def orchestrate(args: argparse.Namespace) -> int:
    _django()
    from django.conf import settings

    if settings.DJANGO_DB_ROLE != "app":
        raise SystemExit("run the benchmark with DJANGO_DB_ROLE unset (the app role)")
    owner, app, backup = settings.DATABASE_OWNER, settings.DATABASES["default"], settings.DATABASE_BACKUP
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    docs_dir, media = STATE_DIR / "docserver", STATE_DIR / "media"
    reuse = args.reuse and _seeded(owner, args) and docs_dir.exists()
    if not reuse:
        with _pg(owner, "postgres", autocommit=True) as pg:
            pg.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
            pg.execute(f'CREATE DATABASE "{DB_NAME}"')
            for role in (app["USER"], backup["USER"]):
                pg.execute(f'GRANT CONNECT ON DATABASE "{DB_NAME}" TO "{role}"')
        shutil.rmtree(docs_dir, ignore_errors=True)
        shutil.rmtree(media, ignore_errors=True)
    docs_dir.mkdir(parents=True, exist_ok=True)
    media.mkdir(parents=True, exist_ok=True)
    docs_port, docs = _start_docserver(docs_dir)
    env = {
        **os.environ,
        "DATABASE_URL": _url(app, DB_NAME),
        "DATABASE_OWNER_URL": _url(owner, DB_NAME),
        "DATABASE_BACKUP_URL": _url(backup, DB_NAME),
        "MONGODB_URI": f"mongodb://127.0.0.1:{docs_port}/bench_catalogue",
        "CACHE_KEY_PREFIX": PREFIX,
        "CELERY_QUEUE_PREFIX": PREFIX,
        "MEDIA_ROOT": str(media),
        "LOG_LEVEL": "WARNING",
        "DJANGO_DEBUG": "false",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "OUTBOX_FAST_PATH": "off",
    }
    sizes = ["--trips", str(args.trips), "--bookings", str(args.bookings), "--travellers", str(args.travellers)]
    try:
        if reuse:
            print(f"[bench.catalogue] reusing {DB_NAME} and its documents ({args.trips}/{args.bookings})", flush=True)
        else:
            print(f"[bench.catalogue] scratch database {DB_NAME}, document server on :{docs_port}; migrating ...",
                  flush=True)  # fmt: skip
            started = time.monotonic()
            subprocess.run([sys.executable, "manage.py", "migrate_stores", "-v", "0"], cwd=ROOT,
                           env={**env, "DJANGO_DB_ROLE": "owner"}, check=True)  # fmt: skip
            print(f"[bench.catalogue] migrated in {time.monotonic() - started:.1f} s", flush=True)
            subprocess.run([sys.executable, "-m", "bench.catalogue", "--seed", *sizes], cwd=ROOT,
                           env={**env, "DJANGO_DB_ROLE": "owner"}, check=True)  # fmt: skip
        result = subprocess.run(
            [sys.executable, "-m", "bench.catalogue", "--drive", *sizes, "--clients", args.clients,
             "--seconds", str(args.seconds), "--rls-samples", str(args.rls_samples),
             "--catalogue-cache", str(args.catalogue_cache), "--pace", str(args.pace)],
            cwd=ROOT, env=env, check=False,
        )  # fmt: skip
        return result.returncode
    finally:
        stop_docserver(docs)
        if not (args.keep or args.reuse):
            shutil.rmtree(docs_dir, ignore_errors=True)
            shutil.rmtree(media, ignore_errors=True)
            with _pg(owner, "postgres", autocommit=True) as pg:
                pg.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')


# --- data (child, as the OWNER role of the scratch database) -------------------------------------------

# SQL fragments (for statements with parameters, hence %%) of trip number {i}.
_TRIP_PRICE = "(30000 + (({i} * 7919) %% 97) * 5000)"  # 300.00 .. 5,100.00 per person
_TRIP_START = "(current_date + 2 + (({i} * 31) %% 730))"


def _price(i: str) -> str:
    return _TRIP_PRICE.replace("{i}", i)


def _start(i: str) -> str:
    return _TRIP_START.replace("{i}", i)


def seed(args: argparse.Namespace) -> None:
    _django()
    import io

    from django.conf import settings
    from django.contrib.auth.hashers import make_password
    from django.db import connection, transaction

    from accounts.models import User
    from bookings.images import demo_image_bytes, trip_image_store
    from bookings.models import TripContent
    from bookings.sync import trip_document_fields
    from taskforge.mongo import documents_collection

    n, m, t = args.trips, args.bookings, args.travellers
    if settings.DJANGO_DB_ROLE != "owner":
        raise SystemExit("--seed runs as the owner role")
    clock = time.monotonic()

    def step(label: str) -> None:
        nonlocal clock
        now = time.monotonic()
        print(f"[bench.catalogue]   {label}: {now - clock:.1f} s", flush=True)
        clock = now

    print(f"[bench.catalogue] generating {n} trips, {m} bookings, {t} travellers ...", flush=True)
    password = make_password(PASSWORD)
    User.objects.bulk_create(
        [User(email=f"traveller{i:05d}@bench.example", password=password,
              display_name=f"Traveller {i}", email_verified=True) for i in range(t)],
        batch_size=2000,
    )  # fmt: skip
    user_ids = list(User.objects.filter(email__endswith="@bench.example").order_by("id").values_list("id", flat=True))
    step(f"{len(user_ids)} travellers")
    images = [trip_image_store(io.BytesIO(demo_image_bytes(k, f"Bench {k}"))) for k in range(12)]
    thumbs = [img.thumbnail for img in images]
    step("12 shared trip images")
    budget, luxury = settings.TRIP_PRICE_BUDGET_MAX_MINOR, settings.TRIP_PRICE_LUXURY_MIN_MINOR
    with transaction.atomic(), connection.cursor() as cur:
        # The loader acts as the system (admin role) for the booking policy, and skips the
        # per-row audit trigger for the load (a million audit rows would be the benchmark).
        cur.execute("SELECT set_config('rls.role', 'system', true)")
        # Foreign keys checked per statement, not queued to the commit (ALTER TABLE below).
        cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for table in ("bookings_trip", "bookings_departure", "bookings_booking"):
            cur.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        cur.execute(
            f"""
            INSERT INTO bookings_trip (code, price_minor, currency, seats, start, length_days, active, version,
                                       created_at, updated_at)
            SELECT 'B' || lpad(i::text, 6, '0'), {_price("i")}, 'GBP', 60 + (i %% 7) * 10, {_start("i")},
                   3 + (i %% 19), (i %% 23) <> 0, 1, now(), now()
            FROM generate_series(1, %(n)s) AS i
            """,
            {"n": n},
        )
        cur.execute(
            "INSERT INTO bookings_departure (trip_id, date, capacity, seats_taken) "
            "SELECT id, start, seats, 0 FROM bookings_trip"
        )
        step("trips and departures")
        cur.execute(
            """
            INSERT INTO bookings_trip_listing (code, version, name, resort, keywords, description, price_minor,
                currency, price_range, start, length_days, active, thumbnail, updated_at)
            SELECT code, 1, adj || ' ' || resort || ' ' || theme, resort, kw, 'Discover ' || resort || ' on a '
                   || length_days || '-day ' || lower(theme) || '. Small groups, local guides and time for '
                   || replace(kw, ' ', ', ') || '. Flights are not included; departures run all year.',
                   price_minor, 'GBP',
                   CASE WHEN price_minor < %(budget)s THEN 'budget' WHEN price_minor >= %(luxury)s THEN 'luxury'
                        ELSE 'mid-range' END,
                   start, length_days, active,
                   (%(thumbs)s::text[])[1 + i %% cardinality(%(thumbs)s::text[])], now()
            FROM (
                SELECT t.*,
                       (%(resorts)s::text[])[1 + (i * 13) %% cardinality(%(resorts)s::text[])] AS resort,
                       (%(themes)s::text[])[1 + (i * 7) %% cardinality(%(themes)s::text[])] AS theme,
                       (%(adjs)s::text[])[1 + i %% cardinality(%(adjs)s::text[])] AS adj,
                       (%(kws)s::text[])[1 + i %% 30] || ' ' || (%(kws)s::text[])[1 + (i * 7) %% 30] || ' '
                         || (%(kws)s::text[])[1 + (i * 11) %% 30] AS kw
                FROM (SELECT *, substr(code, 2)::int AS i FROM bookings_trip) t
            ) s
            """,
            {"budget": budget, "luxury": luxury, "resorts": RESORTS, "themes": THEMES, "adjs": ADJECTIVES,
             "kws": KEYWORDS, "thumbs": thumbs},
        )  # fmt: skip
        cur.execute(
            "INSERT INTO bookings_search_word (word) SELECT DISTINCT w FROM bookings_trip_listing l, "
            "regexp_split_to_table(lower(l.name || ' ' || l.resort || ' ' || l.keywords), '[^[:alnum:]]+') AS w "
            "WHERE length(w) BETWEEN 3 AND 60 ON CONFLICT DO NOTHING"
        )
        step("search projection (weighted tsvector) and its vocabulary")
        cur.execute(
            f"""
            INSERT INTO bookings_booking (user_id, trip_code, departure_id, booking_date, travel_date, travellers,
                unit_price_minor, total_minor, currency, status, payment_reference, idempotency_key,
                refund_minor, cancel_reason, confirmed_at, cancelled_at, created_at, updated_at)
            SELECT (%(users)s::bigint[])[(1 + i %% %(t)s)::int], 'B' || lpad(tr::text, 6, '0'),
                   (SELECT d.id FROM bookings_trip bt JOIN bookings_departure d ON d.trip_id = bt.id
                    WHERE bt.code = 'B' || lpad(tr::text, 6, '0') AND d.date = bt.start), booked, {_start("tr")},
                   1 + i %% 4, {_price("tr")}, {_price("tr")} * (1 + i %% 4), 'GBP',
                   CASE i %% 10 WHEN 0 THEN 'cancelled' WHEN 1 THEN 'confirmed' WHEN 2 THEN 'confirmed'
                        ELSE 'pending' END,
                   CASE WHEN i %% 10 IN (1, 2) THEN 'PAY-' || i ELSE '' END, gen_random_uuid(),
                   CASE WHEN i %% 10 = 0 THEN {_price("tr")} * (1 + i %% 4) / 2 END,
                   CASE WHEN i %% 10 = 0 THEN 'Cancelled by the traveller.' ELSE '' END,
                   CASE WHEN i %% 10 IN (1, 2) THEN booked + interval '1 day' END,
                   CASE WHEN i %% 10 = 0 THEN booked + interval '2 days' END, booked, booked
            FROM (SELECT i, (((i * 7919) %% %(n)s) + 1)::int AS tr,
                         now() - make_interval(days => (i %% 400)::int, mins => (i %% 1440)::int) AS booked
                  FROM generate_series(1::bigint, %(m)s) AS i) s
            """,
            {"users": user_ids, "t": len(user_ids), "n": n, "m": m},
        )
        step(f"{m} bookings")
        cur.execute(
            """
            UPDATE bookings_departure d SET seats_taken = s.taken
            FROM (SELECT trip_code, sum(travellers) AS taken FROM bookings_booking
                  WHERE status <> 'cancelled' GROUP BY trip_code) s, bookings_trip t
            WHERE t.code = s.trip_code AND d.trip_id = t.id
            """
        )
        for table in ("bookings_trip", "bookings_departure", "bookings_booking"):
            cur.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
        cur.execute("CREATE TABLE IF NOT EXISTS bench_marker (key text PRIMARY KEY, value text)")
        cur.execute(
            "INSERT INTO bench_marker VALUES ('size', %s) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            [f"{n}/{m}/{t}"],
        )
        step("seats taken per departure")
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    step("ANALYZE")
    # The trip documents, exactly as the outbox handler writes them.
    collection = documents_collection(TripContent)  # indexes come from migrate_stores
    with connection.cursor() as cur:
        cur.execute(
            "SELECT l.code, l.name, l.resort, l.keywords, l.description, l.price_minor, l.price_range, l.start, "
            "l.length_days, l.active, l.thumbnail, t.seats FROM bookings_trip_listing l "
            "JOIN bookings_trip t ON t.code = l.code ORDER BY l.code"
        )
        batch = []
        now = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
        for code, name, resort, kw, desc, price, prange, start, length, active, thumb, seats in cur:
            payload = {
                "code": code, "name": name, "resort": resort, "length_days": length, "start": start.isoformat(),
                "price_minor": price, "currency": "GBP", "price_range": prange,
                "image": thumb.replace("_thumb", ""), "thumbnail": thumb, "description_md": desc,
                "keywords": kw.split(), "active": active, "seats": seats, "created_at": now, "updated_at": now,
                "itinerary": [{"day": d, "title": f"Day {d}", "details": "Guided visit"} for d in (1, 2, 3)],
            }  # fmt: skip
            batch.append({"_id": code, **trip_document_fields(payload), "version": 1})
            if len(batch) == 5000:
                collection.insert_many(batch, ordered=False)
                batch = []
        if batch:
            collection.insert_many(batch, ordered=False)
    step(f"{collection.estimated_document_count()} trip documents (insert_many)")


# --- HTTP clients (child, as the APP role) -----------------------------------------------------------------


class Client:
    """One signed-in browser: cookies and a keep-alive connection."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def request(self, method: str, path: str, body: dict[str, str] | None = None) -> tuple[int, bytes, float]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()), "User-Agent": "bench.catalogue"}
        data = None
        if body is not None:
            data = urllib.parse.urlencode(body)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
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
        return response.status, payload, elapsed

    def sign_in(self, email: str) -> None:
        status, page, _ = self.request("GET", "/accounts/login/")
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        if status != 200 or not token:
            raise RuntimeError(f"login page: {status}")
        body = {"csrfmiddlewaretoken": token.group(1).decode(), "email": email, "password": PASSWORD,
                "next": "/bookings/mine/"}  # fmt: skip
        status, _, _ = self.request("POST", "/accounts/login/", body)
        if status != 302:
            raise RuntimeError(f"sign-in of {email} answered {status}")


def _price_of(i: int) -> int:
    return 30000 + ((i * 7919) % 97) * 5000


class Scenario:
    def __init__(self, name: str, n: int, today: Any) -> None:
        self.name, self.n, self.today = name, n, today

    def _code(self, rng: random.Random, active: bool = True) -> tuple[int, str]:
        while True:
            i = rng.randint(1, self.n)
            if not active or i % 23:  # the seed takes every 23rd trip off sale
                return i, f"B{i:06d}"

    def request(self, rng: random.Random) -> tuple[str, str, dict[str, str] | None, int]:
        """(method, path, body, expected status)."""
        if self.name == "list":
            sort = rng.choice(["soonest", "price", "name", "price_desc"])
            extra = rng.choice(["", "", f"&resort={urllib.parse.quote(rng.choice(RESORTS))}", "&price_range=luxury",
                                "&length_min=10", "&price_max=1500"])  # fmt: skip
            return "GET", f"/trips/?sort={sort}&page={rng.randint(1, 10)}{extra}", None, 200
        if self.name == "search exact":
            return "GET", f"/trips/?q={urllib.parse.quote(rng.choice(EXACT_QUERIES))}", None, 200
        if self.name == "search typo":
            return "GET", f"/trips/?q={rng.choice(TYPO_QUERIES)}", None, 200
        if self.name == "trip page":
            return "GET", f"/trips/{self._code(rng)[1]}/", None, 200
        if self.name == "my bookings":
            return "GET", "/bookings/mine/", None, 200
        i, code = self._code(rng)
        start = self.today + dt.timedelta(days=2 + (i * 31) % 730)
        body = {"travel_date": start.isoformat(), "travellers": "1", "expected_total": str(_price_of(i)),
                "idempotency_key": str(uuid.uuid4()), "step": "confirm"}  # fmt: skip
        return "POST", f"/trips/{code}/book/", body, 302


# (label, request kind, who): the public pages as anonymous visitors (most catalogue
# traffic), plus the list once more as a signed-in traveller, whose requests also pay the
# accounts middleware (session index, presence, profile preferences).
SCENARIOS = [
    ("list", "list", "anonymous"),
    ("search exact", "search exact", "anonymous"),
    ("search typo", "search typo", "anonymous"),
    ("trip page", "trip page", "anonymous"),
    ("list signed-in", "list", "traveller"),
    ("my bookings", "my bookings", "traveller"),
    ("book", "book", "traveller"),
]


def run_load(clients: list[Client], scenario: Scenario, seconds: float, pace: float = 0.0) -> dict[str, Any]:
    """Closed loop (pace 0: next request as soon as the last answered) or paced (each
    client about one request per `pace` seconds, jittered)."""
    results: list[tuple[float, bool]] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def worker(index: int, client: Client) -> None:
        rng = random.Random(index * 7919 + int(time.time()))
        local = []
        while time.monotonic() < stop_at:
            method, path, body, expected = scenario.request(rng)
            if body is not None:
                body["csrfmiddlewaretoken"] = client.cookies.get("csrftoken", "")
            sent = time.monotonic()
            try:
                status, _, elapsed = client.request(method, path, body)
            except OSError:
                status, elapsed = 0, 0.0
            local.append((elapsed, status == expected))
            if pace:
                time.sleep(max(0.0, rng.uniform(0.5, 1.5) * pace - (time.monotonic() - sent)))
        with lock:
            results.extend(local)

    threads = [threading.Thread(target=worker, args=(i, c)) for i, c in enumerate(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.monotonic() - started
    times = sorted(e for e, ok in results if ok)
    report: dict[str, Any] = {"n": len(times), "errors": sum(1 for _, ok in results if not ok),
                              "rps": len(results) / wall}  # fmt: skip
    if len(times) >= 2:
        q = statistics.quantiles(times, n=100, method="inclusive")
        report.update(p50=q[49] * 1000, p95=q[94] * 1000, p99=q[98] * 1000, max=times[-1] * 1000)
    return report


def rls_overhead(samples: int) -> dict[str, Any]:
    """The My-bookings query with RLS in force (app role + traveller context) against the
    backup role (BYPASSRLS), interleaved on two connections."""
    from django.conf import settings
    from django.db import connection

    from accounts.models import User
    from bookings.models import Booking

    user_ids = list(User.objects.filter(email__endswith="@bench.example").values_list("id", flat=True))
    # The exact SQL of selectors.bookings_for_traveller, page 1.
    sql, params = (
        Booking.objects.filter(user_id=user_ids[0]).order_by("-travel_date", "-id")[:21].query.sql_with_params()
    )
    app_cfg = {**settings.DATABASES["default"], "NAME": connection.settings_dict["NAME"]}
    app = _pg(app_cfg, app_cfg["NAME"], autocommit=True)
    bypass = _pg(settings.DATABASE_BACKUP, app_cfg["NAME"], autocommit=True)
    assert bypass.execute("SELECT rolbypassrls FROM pg_roles WHERE rolname = current_user").fetchone()[0]
    assert not app.execute("SELECT rolbypassrls FROM pg_roles WHERE rolname = current_user").fetchone()[0]
    rng = random.Random(5)
    timings: dict[str, list[float]] = {"rls": [], "bypass": []}
    rows_seen = {"rls": 0, "bypass": 0}
    for k in range(samples + 200):
        uid = rng.choice(user_ids)
        order = ("rls", "bypass") if k % 2 else ("bypass", "rls")
        for kind in order:
            conn = app if kind == "rls" else bypass
            if kind == "rls":
                conn.execute("SELECT set_config('rls.user_id', %s, false), set_config('rls.role', 'traveller', false)",
                             [str(uid)])  # fmt: skip
            started = time.perf_counter()
            rows = conn.execute(sql, [uid, *params[1:]]).fetchall()
            elapsed = time.perf_counter() - started
            if k >= 200:  # the first 200 rounds warm the caches
                timings[kind].append(elapsed)
                rows_seen[kind] += len(rows)
    # Server-side execution time only (no network, parse or client): the policy's own cost.
    server: dict[str, list[float]] = {"rls": [], "bypass": []}
    for k in range(min(samples, 1000)):
        uid = rng.choice(user_ids)
        for kind in ("rls", "bypass") if k % 2 else ("bypass", "rls"):
            conn = app if kind == "rls" else bypass
            if kind == "rls":
                conn.execute("SELECT set_config('rls.user_id', %s, false)", [str(uid)])
            plan = conn.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, [uid, *params[1:]]).fetchone()[0]
            server[kind].append(plan[0]["Execution Time"])
    plan_rls = app.execute("EXPLAIN " + sql, [user_ids[0], *params[1:]]).fetchall()
    app.close()
    bypass.close()
    med = {k: statistics.median(v) * 1000 for k, v in timings.items()}
    mean = {k: statistics.fmean(v) * 1000 for k, v in timings.items()}
    server_med = {k: statistics.median(v) for k, v in server.items()}
    return {
        "server_median_ms": server_med,
        "server_ratio": server_med["rls"] / server_med["bypass"],
        "samples": samples,
        "median_ms": med,
        "mean_ms": mean,
        "ratio_median": med["rls"] / med["bypass"],
        "ratio_mean": mean["rls"] / mean["bypass"],
        "same_rows": rows_seen["rls"] == rows_seen["bypass"],
        "plan_rls": [line for (line,) in plan_rls],
    }


def drive(args: argparse.Namespace) -> None:
    _django()
    from django.utils import timezone

    concurrencies = [int(c) for c in args.clients.split(",")]
    port = _free_port()
    env = {**os.environ, "GUNICORN_BIND": f"127.0.0.1:{port}", "CATALOGUE_CACHE_SECONDS": str(args.catalogue_cache)}
    log = Path(tempfile.mkdtemp(prefix="bench-catalogue-web-")) / "gunicorn.log"
    web = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "--access-logfile", "/dev/null"],
        cwd=ROOT, env=env, stdout=open(log, "ab"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    results: dict[str, Any] = {"sizes": vars(args), "load": {}}
    try:
        _wait_port(port, web, "gunicorn")
        clients = {"traveller": [], "anonymous": [Client(port) for _ in range(max(concurrencies))]}
        for k in range(max(concurrencies)):
            client = Client(port)
            client.sign_in(f"traveller{k:05d}@bench.example")
            clients["traveller"].append(client)
        cache = "off" if args.catalogue_cache == 0 else f"{args.catalogue_cache} s"
        results["catalogue_cache"] = cache
        print(f"[bench.catalogue] gunicorn (deploy/gunicorn.conf.py) on :{port}; {max(concurrencies)} travellers "
              f"signed in; catalogue cache {cache}", flush=True)  # fmt: skip
        today = timezone.localdate()
        modes = [("closed", 0.0)] + ([("paced", args.pace)] if args.pace else [])
        for mode, pace in modes:
            for concurrency in concurrencies:
                for name, kind, who in SCENARIOS:
                    scenario = Scenario(kind, args.trips, today)
                    run_load(clients[who][:concurrency], scenario, 3)  # warm-up
                    report = run_load(clients[who][:concurrency], scenario, args.seconds, pace)
                    results["load"][f"{mode}/{concurrency}/{name}"] = report
                    print(f"[bench.catalogue]   {mode:<6} {concurrency:>3} clients  {name:<15} n={report['n']:<6} "
                          f"p50={report.get('p50', 0):7.1f} ms  p95={report.get('p95', 0):7.1f} ms  "
                          f"errors={report['errors']}", flush=True)  # fmt: skip
        web.terminate()
        web.wait(timeout=30)
        results["rls"] = rls_overhead(args.rls_samples)
    finally:
        if web.poll() is None:
            web.terminate()
            try:
                web.wait(timeout=30)
            except subprocess.TimeoutExpired:
                web.kill()
    _print(results, args)
    out = STATE_DIR / f"results-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(results, indent=2, default=str))
    print(f"\n(results saved to {out.relative_to(ROOT)})")


def _print(results: dict[str, Any], args: argparse.Namespace) -> None:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print()
    print(f"TaskForge catalogue/bookings benchmark: {args.trips:,} trips, {args.bookings:,} bookings, "
          f"{args.travellers:,} travellers; catalogue cache {results['catalogue_cache']}; closed loop, "
          f"{args.seconds:.0f} s per scenario; {os.cpu_count()} CPUs, "
          f"load average {load} (the load generator and anything else on the machine share them)")  # fmt: skip
    print(f"{'mode':<7}{'clients':>7}  {'scenario':<15} {'requests':>8} {'errors':>6} {'req/s':>7} {'p50 ms':>8} "
          f"{'p95 ms':>8} {'p99 ms':>8}")  # fmt: skip
    for key, r in results["load"].items():
        mode, clients, name = key.split("/", 2)
        print(f"{mode:<7}{clients:>7}  {name:<15} {r['n']:>8} {r['errors']:>6} {r['rps']:>7.1f} "
              f"{r.get('p50', 0):>8.1f} {r.get('p95', 0):>8.1f} {r.get('p99', 0):>8.1f}")  # fmt: skip
    if args.pace:
        print(
            f"(closed: each client sends its next request as soon as the last one answered, i.e. the server is "
            f"saturated and latency = queueing + work; paced: each client about one request per {args.pace:g} s)"
        )
    rls = results["rls"]
    print(f"\nRLS overhead, My-bookings query ({rls['samples']} interleaved samples, same rows: {rls['same_rows']}): "
          f"median {rls['median_ms']['rls']:.3f} ms with RLS vs {rls['median_ms']['bypass']:.3f} ms BYPASSRLS "
          f"-> ratio {rls['ratio_median']:.3f} (mean ratio {rls['ratio_mean']:.3f})")  # fmt: skip
    print(f"  server-side execution time (EXPLAIN ANALYZE): median {rls['server_median_ms']['rls']:.3f} ms vs "
          f"{rls['server_median_ms']['bypass']:.3f} ms -> ratio {rls['server_ratio']:.3f}")  # fmt: skip
    print("  plan with RLS: " + " | ".join(line.strip() for line in rls["plan_rls"]))
    top = max(int(c) for c in args.clients.split(","))

    def p95(name: str, mode: str = "closed") -> float:
        return results["load"].get(f"{mode}/{top}/{name}", {}).get("p95", float("nan"))

    checks = [
        ("catalogue list p95 < 150 ms", "list", 150),
        ("search exact p95 < 150 ms", "search exact", 150),
        ("search typo p95 < 150 ms", "search typo", 150),
        ("booking creation p95 < 250 ms", "book", 250),
    ]
    print(f"\nTargets at {top} clients (closed loop{' | paced' if args.pace else ''}):")
    for label, kind, limit in checks:
        line = f"  {label:<32} {p95(kind):8.1f} ms  {'met' if p95(kind) < limit else 'NOT met':<8}"
        if args.pace:
            line += f" | {p95(kind, 'paced'):8.1f} ms  {'met' if p95(kind, 'paced') < limit else 'NOT met'}"
        print(line)
    overhead = (rls["ratio_median"] - 1) * 100
    print(f"  {'RLS overhead <= 10%':<32} {overhead:8.1f} %   {'met' if overhead <= 10 else 'NOT met'}")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.catalogue", description=__doc__.split("\n\n")[0])
    parser.add_argument("--trips", type=int, default=100_000)
    parser.add_argument("--bookings", type=int, default=1_000_000)
    parser.add_argument("--travellers", type=int, default=10_000)
    parser.add_argument("--clients", default="20,50")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--rls-samples", type=int, default=3000)
    parser.add_argument("--pace", type=float, default=1.0, help="also a paced run, 1 request per PACE s (0 = skip)")
    parser.add_argument("--catalogue-cache", type=int, default=300, help="CATALOGUE_CACHE_SECONDS (0 = off)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database and documents")
    parser.add_argument("--reuse", action="store_true", help="reuse kept data of the same size (implies --keep)")
    parser.add_argument("--seed", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--drive", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.trips < 100 or args.bookings < args.trips or args.travellers < 60:
        parser.error("use at least 100 trips, as many bookings as trips and 60 travellers")
    if args.seed:
        seed(args)
        return 0
    if args.drive:
        drive(args)
        return 0
    return orchestrate(args)


if __name__ == "__main__":
    sys.exit(main())
