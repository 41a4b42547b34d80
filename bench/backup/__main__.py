"""Backup benchmark: `.venv/bin/python -m bench.backup [--bookings 1000000] [--trips 100000] [--keep]`.

Runs against a scratch stack, never the dev data: a PostgreSQL database
`bench_taskforge_backup` (created and migrated as the owner role, dropped at the end
unless --keep), its own SecantusDB on a free port and a temporary BACKUP_DIR.

1. Seed (not timed as a result): --users travellers, --trips trips with their departure
   and catalogue listing rows, --bookings bookings (10 per trip by default), generated
   server-side with INSERT ... SELECT generate_series (as the superuser, with triggers
   off, as a bulk load would be), and one catalogue document per trip in the document
   server. Columns the seeder does not know get a neutral value, so a schema change in
   the bookings app does not break it.
2. `backup_create()` — the code behind `manage.py backup` and the nightly job: pg_dump -Fc as
   the backup role from an exported snapshot (encrypted with age as it streams), per-table
   counts + checksums in that snapshot, the document dump (encrypted), sha256 of every
   file, the manifest. Timed. The key is the checkout's var/ identity unless
   BACKUP_AGE_RECIPIENTS / BACKUP_AGE_IDENTITY_FILES say otherwise.
3. `verify_backup()` — the code behind `manage.py verify_backup`: file sizes + sha256,
   decryption into a private directory, pg_restore into a scratch database, document
   restore into a scratch database, counts + checksums compared with the manifest. Timed,
   with its parts.

Prints both times and the sizes; exits 1 if verification fails.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from taskforge.testing.docserver import docserver_argv, stop_docserver, wait_for_ping

ROOT = Path(__file__).resolve().parents[2]
DB_NAME = "bench_taskforge_backup"
MONGO_DB = "bench_backup"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _url(cfg: dict[str, Any], name: str) -> str:
    from urllib.parse import quote

    auth = quote(cfg["USER"]) + (f":{quote(cfg['PASSWORD'])}" if cfg.get("PASSWORD") else "")
    return f"postgres://{auth}@{cfg.get('HOST') or '127.0.0.1'}:{cfg.get('PORT') or 5432}/{name}"


def _connect(cfg: dict[str, Any], dbname: str) -> Any:
    import psycopg

    return psycopg.connect(
        host=cfg.get("HOST") or None, port=cfg.get("PORT") or None, user=cfg["USER"],
        password=cfg.get("PASSWORD") or None, dbname=dbname, autocommit=True,
    )  # fmt: skip


class DocServer:
    """A private SecantusDB for the benchmark."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="bench-backup-docs-"))
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/{MONGO_DB}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            docserver_argv(self.port, self.dir / "data"), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
        )
        wait_for_ping(self.port, self.proc)

    def stop(self) -> None:
        stop_docserver(self.proc)
        self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)


# --- seeding ------------------------------------------------------------------------------------

_NEUTRAL = {
    "boolean": "false",
    "smallint": "1",
    "integer": "1",
    "bigint": "1",
    "numeric": "1",
    "double precision": "1",
    "real": "1",
    "text": "''",
    "character varying": "''",
    "date": "current_date",
    "timestamp with time zone": "now()",
    "timestamp without time zone": "now()",
    "uuid": "gen_random_uuid()",
    "jsonb": "'{}'::jsonb",
    "json": "'{}'::json",
}


def _insert_select(pg: Any, table: str, source: str, values: dict[str, str]) -> int:
    """INSERT INTO table SELECT ... FROM source, filling NOT NULL columns we don't name neutrally."""
    columns = pg.execute(
        "SELECT column_name, data_type, is_nullable, column_default, is_identity, is_generated "
        "FROM information_schema.columns WHERE table_schema = 'public' AND table_name = %s ORDER BY ordinal_position",
        [table],
    ).fetchall()
    if not columns:
        raise SystemExit(f"table {table} does not exist: is the bookings app migrated?")
    names, exprs = [], []
    for name, data_type, nullable, default, identity, generated in columns:
        if name in values:
            names.append(name)
            exprs.append(values[name])
        elif generated == "ALWAYS" or identity == "YES" or default is not None or nullable == "YES":
            continue
        else:
            names.append(name)
            exprs.append(_NEUTRAL.get(data_type, "NULL"))
    unknown = set(values) - {c[0] for c in columns}
    if unknown:
        raise SystemExit(f"{table}: no column(s) {sorted(unknown)}")
    cursor = pg.execute(f'INSERT INTO "{table}" ({", ".join(names)}) SELECT {", ".join(exprs)} FROM {source}')
    return cursor.rowcount


def seed(superuser: dict[str, Any], mongo_uri: str, *, users: int, trips: int, per_trip: int) -> dict[str, int]:
    from pymongo import MongoClient

    counts: dict[str, int] = {}
    with _connect(superuser, DB_NAME) as pg:
        # A bulk load: no audit rows, no per-row triggers (the restore brings them all back).
        pg.execute("SET session_replication_role = replica")
        counts["users"] = _insert_select(
            pg,
            "accounts_user",
            f"generate_series(1, {users}) g",
            {
                "email": "'bench' || g || '@example.com'",
                "password": "'!'",
                "role": "'traveller'",
                "display_name": "'Traveller ' || g",
                "is_active": "true",
                "date_joined": "now() - (g || ' minutes')::interval",
            },
        )
        counts["trips"] = _insert_select(
            pg,
            "bookings_trip",
            f"generate_series(1, {trips}) g",
            {
                "code": "'BT' || lpad(g::text, 7, '0')",
                "price_minor": "10000 + (g * 37) % 190000",
                "currency": "(ARRAY['GBP','EUR','USD'])[1 + g % 3]",
                "seats": "1000",
                "start": "DATE '2027-01-01' + (g % 700)",
                "length_days": "3 + g % 12",
                "active": "true",
                "version": "1",
            },
        )
        _insert_select(
            pg,
            "bookings_departure",
            "bookings_trip t",
            {
                "trip_id": "t.id",
                "date": "t.start",
                "capacity": "t.seats",
                "seats_taken": f"{per_trip * 2}",
            },
        )
        resort = "(ARRAY['Lisbon','Oslo','Rome','Kyoto','Quito'])[1 + t.id % 5]"
        _insert_select(pg, "bookings_trip_listing", "bookings_trip t", {
            "code": "t.code", "version": "1", "name": f"'Trip ' || t.id || ' to ' || {resort}",
            "resort": resort,
            "keywords": "'sea city food walking'", "description": "repeat('A fine trip. ', 20)",
            "price_minor": "t.price_minor", "currency": "t.currency", "price_range": "'mid-range'",
            "start": "t.start", "length_days": "t.length_days", "active": "true",
        })  # fmt: skip
        first_user = pg.execute("SELECT min(id) FROM accounts_user").fetchone()[0]
        source = f"bookings_trip t CROSS JOIN generate_series(1, {per_trip}) k"
        counts["bookings"] = _insert_select(pg, "bookings_booking", source, {
            "user_id": f"{first_user} + ((t.id * {per_trip} + k) % {users})",
            "trip_code": "t.code",
            "booking_date": "now() - ((t.id % 900) || ' hours')::interval",
            "travel_date": "t.start",
            "travellers": "1 + (t.id + k) % 2",
            "unit_price_minor": "t.price_minor",
            "total_minor": "t.price_minor * (1 + (t.id + k) % 2)",
            "currency": "t.currency",
            "status": "CASE WHEN k = 1 THEN 'cancelled' ELSE 'confirmed' END",
            "payment_reference": "'PAY-' || t.id || '-' || k",
            "idempotency_key": "gen_random_uuid()",
            "created_at": "now()",
            "updated_at": "now()",
        })  # fmt: skip
        pg.execute("ANALYZE")
    client = MongoClient(mongo_uri)
    try:
        coll = client[MONGO_DB]["trips"]
        start = datetime(2027, 1, 1, tzinfo=UTC)
        batch = []
        for i in range(1, trips + 1):
            code = f"BT{i:07d}"
            batch.append({
                "_id": code, "code": code, "name": f"Trip {i}", "resort": ["Lisbon", "Oslo", "Rome", "Kyoto"][i % 4],
                "length_days": 3 + i % 12, "start": start + timedelta(days=i % 700),
                "price_minor": 10000 + (i * 37) % 190000, "currency": ["GBP", "EUR", "USD"][i % 3],
                "price_range": "mid-range", "image": f"trips/{code}.jpg", "thumbnail": f"trips/{code}-t.jpg",
                "description_md": "A **fine** trip. " * 20, "keywords": ["sea", "city", "food"],
                "itinerary": [{"day": d, "title": f"Day {d}", "details": "Walk and eat."} for d in range(1, 6)],
                "active": True, "seats": 1000, "created_at": start, "updated_at": start, "version": 1,
            })  # fmt: skip
            if len(batch) == 2000:
                coll.insert_many(batch, ordered=False)
                batch = []
        if batch:
            coll.insert_many(batch, ordered=False)
        coll.create_index([("code", 1)], unique=True, name="code_unique")
        coll.create_index([("start", 1)], name="start")
        counts["trip_documents"] = coll.estimated_document_count()
    finally:
        client.close()
    return counts


# --- measurement (child process: settings point at the bench stack) ---------------------------------


def measure() -> None:
    import django

    django.setup()
    from backups.create import backup_create
    from backups.verify import verify_backup
    from taskforge.dbcontext import context_for_command, context_set

    context_set(context_for_command("bench.backup"))
    started = time.monotonic()
    result = backup_create()
    backup_seconds = time.monotonic() - started
    path = Path(result.record.path)
    started = time.monotonic()
    verified = verify_backup(path)
    verify_seconds = time.monotonic() - started
    manifest = result.manifest
    print(json.dumps({
        "backup_seconds": round(backup_seconds, 2),
        "pg_dump_and_counts_seconds": manifest["postgres"]["seconds"],
        "document_dump_seconds": manifest["mongo"]["seconds"],
        "verify_seconds": round(verify_seconds, 2),
        "verify": verified.as_json(),
        "size_bytes": result.record.size_bytes,
        "files": {rel: info["size"] for rel, info in manifest["files"].items()},
        "rows": {t: manifest["postgres"]["tables"][t]["rows"] for t in
                 ("accounts_user", "bookings_trip", "bookings_booking", "bookings_trip_listing")},
        "documents": {c: v["documents"] for c, v in manifest["mongo"]["collections"].items()},
        "document_tool": manifest["mongo"]["tool"],
    }))  # fmt: skip


# --- orchestration -----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bookings", type=int, default=1_000_000)
    parser.add_argument("--trips", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--keep", action="store_true", help="Keep the bench databases and the backup.")
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure()
        return
    if args.bookings % args.trips:
        raise SystemExit("--bookings must be a multiple of --trips (bookings per trip)")

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "taskforge.settings")
    django.setup()
    from django.conf import settings

    if settings.DJANGO_DB_ROLE != "app":
        raise SystemExit("run the benchmark with DJANGO_DB_ROLE unset (the app role)")
    owner, superuser = settings.DATABASE_OWNER, settings.DATABASE_SUPERUSER
    app, backup = settings.DATABASES["default"], settings.DATABASE_BACKUP
    backup_dir = Path(tempfile.mkdtemp(prefix="bench-backup-files-"))
    docs = DocServer()
    env = {
        **os.environ,
        "DATABASE_URL": _url(app, DB_NAME),
        "DATABASE_OWNER_URL": _url(owner, DB_NAME),
        "DATABASE_BACKUP_URL": _url(backup, DB_NAME),
        "MONGODB_URI": docs.uri,
        "MONGODB_TIMEOUT_MS": "10000",
        "BACKUP_DIR": str(backup_dir),
        "CELERY_QUEUE_PREFIX": "bench_backup_",
        "CACHE_KEY_PREFIX": "bench_backup",
        "LOG_LEVEL": "WARNING",
    }
    failed = False
    try:
        with _connect(owner, "postgres") as pg:
            pg.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
            pg.execute(f'CREATE DATABASE "{DB_NAME}"')
        docs.start()
        print(f"migrating {DB_NAME} ...", flush=True)
        subprocess.run(
            [sys.executable, "manage.py", "migrate_stores", "-v", "0"],
            cwd=ROOT,
            check=True,
            env={**env, "DJANGO_DB_ROLE": "owner"},
        )
        print(
            f"seeding {args.users} users, {args.trips} trips, {args.bookings} bookings, {args.trips} documents ...",
            flush=True,
        )
        started = time.monotonic()
        counts = seed(superuser, docs.uri, users=args.users, trips=args.trips, per_trip=args.bookings // args.trips)
        print(f"  seeded in {time.monotonic() - started:.1f}s: {counts}", flush=True)
        print("backing up, then verifying (restore into scratch + compare) ...", flush=True)
        out = subprocess.run(
            [sys.executable, "-m", "bench.backup", "--measure"], cwd=ROOT, env=env, capture_output=True, text=True
        )
        if out.returncode != 0:
            raise SystemExit(f"measurement failed:\n{out.stderr[-4000:]}")
        figures = json.loads(out.stdout.strip().splitlines()[-1])
        verify = figures["verify"]
        print()
        print(f"data set: {figures['rows']} rows; documents {figures['documents']} ({figures['document_tool']})")
        print(
            f"backup size: {figures['size_bytes'] / 2**20:.1f} MiB "
            f"({', '.join(f'{k} {v / 2**20:.1f} MiB' for k, v in figures['files'].items() if v > 2**20)})"
        )
        print(
            f"BACKUP:          {figures['backup_seconds']:8.1f} s  (pg_dump + counts/checksums "
            f"{figures['pg_dump_and_counts_seconds']:.1f} s, document dump {figures['document_dump_seconds']:.1f} s)"
        )
        print(
            f"VERIFIED RESTORE:{figures['verify_seconds']:8.1f} s  "
            f"(sha256 {verify.get('file_check_seconds', 0):.1f} s, "
            f"decrypt {verify.get('decrypt_seconds', 0):.1f} s, "
            f"pg_restore (with decrypt) {verify.get('restore_postgres_seconds', 0):.1f} s, document restore "
            f"{verify.get('restore_documents_seconds', 0):.1f} s, counts/checksums compared "
            f"{verify.get('compare_seconds', 0):.1f} s, scratch dropped)"
        )
        print(f"verification: {'OK' if verify['ok'] else 'FAILED: ' + '; '.join(verify['problems'])}")
        failed = not verify["ok"]
    finally:
        docs.stop()
        if not args.keep:
            with _connect(superuser, "postgres") as pg:
                pg.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
                pg.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}_scratch" WITH (FORCE)')
            shutil.rmtree(backup_dir, ignore_errors=True)
        else:
            print(f"kept: database {DB_NAME}, backups in {backup_dir}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
