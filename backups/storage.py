"""What every backup step shares: names, locks, connections to both stores, checksums."""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from bson import decode_file_iter
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument
from django.conf import settings
from django.db import connections
from psycopg import sql
from pymongo import MongoClient, uri_parser

from backups import crypto as backup_crypto
from taskforge import pgconn

logger = logging.getLogger(__name__)

BACKUP_LOCK_KEY = 0x74666275  # "tfbu": one backup (or live restore) at a time
SCRATCH_LOCK_KEY = 0x74667363  # "tfsc": one restore into the scratch databases at a time
NAME_FORMAT = "%Y%m%dT%H%M%SZ"
NAME_RE = re.compile(r"^\d{8}T\d{6}Z$")
MANIFEST = "manifest.json"
VERIFY_FILE = "verify.json"
PG_FILE = "postgres.dump"  # its name in a clear (format 1) backup and in a decrypted copy
MONGO_DIR = "mongo"
AGE = backup_crypto.AGE_SUFFIX
FORMAT = "taskforge-backup/2"  # every data file encrypted with age
FORMAT_CLEAR = "taskforge-backup/1"  # before encryption: still restored and verified
RAW = CodecOptions(document_class=RawBSONDocument)
# Session settings that make a row's text form (hashed for the checksums) independent of the server's defaults.
STABLE_TEXT_SQL = (
    "SET TIME ZONE 'UTC'; SET DateStyle = 'ISO, MDY'; SET IntervalStyle = 'postgres'; "
    "SET extra_float_digits = 1; SET bytea_output = 'hex'"
)


class BackupError(Exception):
    """A backup, restore or verification could not be done (message says why)."""


class BackupBusy(BackupError):
    """Another backup (or restore) holds the lock."""


# --- connections ------------------------------------------------------------------------


def live_db_name() -> str:
    """The database the site uses (the test database under pytest)."""
    return connections["default"].settings_dict["NAME"]


def scratch_db_name() -> str:
    return f"{live_db_name()}_scratch"


def pg_connect(config: dict[str, Any], dbname: str, *, autocommit: bool = True) -> psycopg.Connection:
    return psycopg.connect(
        **pgconn.connect_kwargs(config),
        dbname=dbname,
        autocommit=autocommit,
        connect_timeout=10,
        application_name="taskforge-backup",
    )


def pg_cli_args(config: dict[str, Any], dbname: str) -> tuple[list[str], dict[str, str]]:
    """Connection arguments for pg_dump/pg_restore; the password and the URL's TLS options
    (PGSSLMODE, PGSSLROOTCERT, ...) go in the environment, not argv."""
    args = []
    if config.get("HOST"):
        args += ["--host", str(config["HOST"])]
    if config.get("PORT"):
        args += ["--port", str(config["PORT"])]
    if config.get("USER"):
        args += ["--username", str(config["USER"])]
    args += ["--dbname", dbname, "--no-password"]
    env = {**os.environ, "PGAPPNAME": "taskforge-backup", "PGCONNECT_TIMEOUT": "10", **pgconn.cli_env(config)}
    env.pop("PGPASSWORD", None)
    if config.get("PASSWORD"):
        env["PGPASSWORD"] = str(config["PASSWORD"])
    return args, env


def _lock_config() -> dict[str, Any]:
    return connections["default"].settings_dict


@contextmanager
def advisory_lock(key: int, what: str) -> Iterator[None]:
    """Hold a session advisory lock on the live database for the block, or raise BackupBusy.

    Session-level on a connection of its own: if this process dies, PostgreSQL drops the
    connection and with it the lock, so a crash never leaves a stale lock behind.
    """
    conn = pg_connect(_lock_config(), live_db_name())
    try:
        got = conn.execute("SELECT pg_try_advisory_lock(%s)", [key]).fetchone()[0]
        if not got:
            raise BackupBusy(f"another {what} is running (lock {key:#x} held); try again when it has finished")
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", [key])
    finally:
        conn.close()


def mongo_client(uri: str | None = None) -> MongoClient:
    return MongoClient(
        uri or settings.MONGODB_URI,
        serverSelectionTimeoutMS=max(settings.MONGODB_TIMEOUT_MS, 3000),
        connectTimeoutMS=max(settings.MONGODB_TIMEOUT_MS, 3000),
        socketTimeoutMS=300_000,
        uuidRepresentation="standard",
        retryWrites=False,
    )


def mongo_db_name() -> str:
    return uri_parser.parse_uri(settings.MONGODB_URI).get("database") or "taskforge"


# --- checksums ------------------------------------------------------------------------------


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _list_tables(cur: psycopg.Cursor) -> list[str]:
    cur.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY 1"
    )
    return [name for (name,) in cur.fetchall()]


def table_stats(conn: psycopg.Connection) -> dict[str, dict[str, Any]]:
    """Rows and an order-independent checksum (sum of a 64-bit hash of each row's text) per table."""
    stats: dict[str, dict[str, Any]] = {}
    with conn.cursor() as cur:
        for table in _list_tables(cur):
            cur.execute(
                sql.SQL("SELECT count(*), COALESCE(sum(hashtextextended(t::text, 0)), 0)::text FROM {} AS t").format(
                    sql.Identifier("public", table)
                )
            )
            rows, checksum = cur.fetchone()
            stats[table] = {"rows": rows, "checksum": checksum}
    return stats


def doc_hash(raw: bytes) -> int:
    return int.from_bytes(hashlib.sha256(raw).digest()[:8], "big")


def bson_file_stats(path: Path) -> dict[str, Any]:
    """Documents and an order-independent checksum of a .bson file (raises on a damaged file)."""
    count = 0
    total = 0
    with path.open("rb") as handle:
        for doc in decode_file_iter(handle, codec_options=RAW):
            count += 1
            total = (total + doc_hash(doc.raw)) % (1 << 64)
    return {"documents": count, "checksum": f"{total:016x}"}


def collection_stats(db: Any, name: str) -> dict[str, Any]:
    count = 0
    total = 0
    for doc in db.get_collection(name, codec_options=RAW).find({}, batch_size=2000):
        count += 1
        total = (total + doc_hash(doc.raw)) % (1 << 64)
    return {"documents": count, "checksum": f"{total:016x}"}
