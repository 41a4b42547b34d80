"""Backups of both stores, restores, verification and retention.

A backup is one timestamped directory under BACKUP_DIR (``20261121T020000Z/``):

* ``postgres.dump.age``: ``pg_dump -Fc`` of the live database, made as the backup role
  (settings.DATABASE_BACKUP: BYPASSRLS, read-only), from an exported snapshot;
* ``mongo/<db>/<collection>.bson.age`` + ``<collection>.metadata.json.age``: the document
  database in mongodump's directory format, written by ``mongodump`` when it is on PATH,
  otherwise by pymongo (raw BSON documents, concatenated, exactly as the server sent them);
* ``manifest.json``: size and sha256 of every (encrypted) file, the age public keys they
  were encrypted to, and per table / per collection the row or document count and an
  order-independent content checksum. The table figures are computed in the same
  snapshot pg_dump reads, so they describe the dump exactly.

Every data file is encrypted at rest with age (taskforge/backup_crypto.py): pg_dump's
output and the pymongo dump are encrypted as they stream, so no clear copy is written.
The manifest stays clear (names, counts and hashes, no personal data), so `verify_backup`
checks every file's integrity before it needs a key. Restores and verification decrypt
into a private directory next to the backup, removed afterwards. Backups made before
encryption (format 1, clear files) are still restored and verified as they are.

The two stores are not captured at one instant (no such thing exists across them).
MongoDB holds projections fed by the outbox: after a restore, ``manage.py sync_reconcile``
repairs any drift between the restored documents and the restored PostgreSQL rows.

The directory is written as ``.<name>.partial`` and renamed when complete, so a crashed
backup never looks like a good one. Only one backup runs at a time (a PostgreSQL
session advisory lock: released by the server if the process dies, so no stale lock).
A scheduled run is keyed by its slot (BackupRecord.slot): a job redelivered by the
broker while the dump still runs finds the lock held and stops; one redelivered after
the dump finished finds the slot done and stops. Verification restores into scratch
databases (``<db>_scratch`` in PostgreSQL and on the document server) and compares.
Restores run pg_restore as the PostgreSQL superuser (DATABASE_SUPERUSER_URL), because
the owner role is subject to FORCE ROW LEVEL SECURITY; ownership is restored as dumped.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from bson import decode_file_iter, json_util
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument
from django.conf import settings
from django.db import connections
from django.utils import timezone
from psycopg import sql
from pymongo import MongoClient, uri_parser

from taskforge import backup_crypto, pgconn
from taskforge.models_ops import BackupRecord, BackupStatus

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


def _pg_connect(config: dict[str, Any], dbname: str, *, autocommit: bool = True) -> psycopg.Connection:
    return psycopg.connect(
        **pgconn.connect_kwargs(config),
        dbname=dbname,
        autocommit=autocommit,
        connect_timeout=10,
        application_name="taskforge-backup",
    )


def _pg_cli_args(config: dict[str, Any], dbname: str) -> tuple[list[str], dict[str, str]]:
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
    conn = _pg_connect(_lock_config(), live_db_name())
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


def _mongo_client(uri: str | None = None) -> MongoClient:
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


def _doc_hash(raw: bytes) -> int:
    return int.from_bytes(hashlib.sha256(raw).digest()[:8], "big")


def bson_file_stats(path: Path) -> dict[str, Any]:
    """Documents and an order-independent checksum of a .bson file (raises on a damaged file)."""
    count = 0
    total = 0
    with path.open("rb") as handle:
        for doc in decode_file_iter(handle, codec_options=RAW):
            count += 1
            total = (total + _doc_hash(doc.raw)) % (1 << 64)
    return {"documents": count, "checksum": f"{total:016x}"}


def collection_stats(db: Any, name: str) -> dict[str, Any]:
    count = 0
    total = 0
    for doc in db.get_collection(name, codec_options=RAW).find({}, batch_size=2000):
        count += 1
        total = (total + _doc_hash(doc.raw)) % (1 << 64)
    return {"documents": count, "checksum": f"{total:016x}"}


# --- backup -------------------------------------------------------------------------------------


@dataclass
class BackupResult:
    record: BackupRecord
    skipped: bool = False
    reason: str = ""
    manifest: dict[str, Any] = field(default_factory=dict)


def slot_for(now: datetime | None = None) -> str:
    """The daily slot a scheduled run belongs to: the 'backup day' starts at BACKUP_HOUR,
    so a redelivery hours later still maps to the same slot."""
    now = now or timezone.now()
    day = (now.astimezone(UTC) - timedelta(hours=settings.BACKUP_HOUR)).date()
    return f"daily-{day.isoformat()}"


def backup_create(*, slot: str | None = None, base_dir: Path | None = None) -> BackupResult:
    """Make one backup (see the module docstring). Raises BackupBusy when one is running."""
    try:
        recipients = backup_crypto.configured_recipients()
    except backup_crypto.BackupKeyError as exc:
        raise BackupError(str(exc)) from None
    base = Path(base_dir or settings.BACKUP_DIR)
    base.mkdir(parents=True, exist_ok=True)
    base = base.resolve()
    with advisory_lock(BACKUP_LOCK_KEY, "backup"):
        if slot:
            done = BackupRecord.objects.filter(slot=slot, status=BackupStatus.OK).first()
            if done is not None:
                return BackupResult(done, skipped=True, reason=f"slot {slot} already backed up ({done.path})")
            # We hold the lock, so a 'running' record of this slot belongs to a process that died.
            BackupRecord.objects.filter(slot=slot, status=BackupStatus.RUNNING).update(
                status=BackupStatus.FAILED, error="interrupted: the process running it died", finished_at=timezone.now()
            )
        name = datetime.now(UTC).strftime(NAME_FORMAT)
        while (base / name).exists():  # two manual runs within one second
            time.sleep(1)
            name = datetime.now(UTC).strftime(NAME_FORMAT)
        final = base / name
        partial = base / f".{name}.partial"
        record = BackupRecord.objects.create(path=str(final), slot=slot, status=BackupStatus.RUNNING)
        started = time.monotonic()
        try:
            shutil.rmtree(partial, ignore_errors=True)
            partial.mkdir()
            manifest = _dump_into(partial, name, recipients)
            manifest["duration_seconds"] = round(time.monotonic() - started, 3)
            manifest_bytes = json.dumps(manifest, indent=2, sort_keys=True).encode()
            (partial / MANIFEST).write_bytes(manifest_bytes)
            _fsync_tree(partial)
            partial.rename(final)
            _fsync_dir(base)
        except BaseException as exc:
            shutil.rmtree(partial, ignore_errors=True)
            BackupRecord.objects.filter(pk=record.pk).update(
                status=BackupStatus.FAILED, error=f"{type(exc).__name__}: {exc}"[:4000], finished_at=timezone.now()
            )
            raise
        size = sum(p.stat().st_size for p in final.rglob("*") if p.is_file())
        BackupRecord.objects.filter(pk=record.pk).update(
            status=BackupStatus.OK,
            finished_at=timezone.now(),
            size_bytes=size,
            manifest_sha256=hashlib.sha256(manifest_bytes).hexdigest(),
        )
        record.refresh_from_db()
        return BackupResult(record, manifest=manifest)


def _dump_into(target: Path, name: str, recipients: list[Any]) -> dict[str, Any]:
    backup_cfg = settings.DATABASE_BACKUP
    dbname = live_db_name()
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "name": name,
        "created_at": datetime.now(UTC).isoformat(),
        "encryption": backup_crypto.manifest_entry(recipients),
    }
    # 1. PostgreSQL: export a snapshot, let pg_dump read it while we count in the same snapshot.
    pg_started = time.monotonic()
    with _pg_connect(backup_cfg, dbname) as snap:
        snap.execute(STABLE_TEXT_SQL)
        snap.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        snapshot = snap.execute("SELECT pg_export_snapshot()").fetchone()[0]
        server_version = snap.execute("SHOW server_version").fetchone()[0]
        args, env = _pg_cli_args(backup_cfg, dbname)
        errors = target / ".pg_dump.stderr"
        with errors.open("wb") as err:
            # pg_dump writes to a pipe that is encrypted on a thread: no clear copy on disk.
            proc = subprocess.Popen(
                ["pg_dump", "--format=custom", f"--snapshot={snapshot}", *args],
                env=env,
                stdout=subprocess.PIPE,
                stderr=err,
            )
            assert proc.stdout is not None
            encryption = backup_crypto.BackgroundEncryption(proc.stdout, target / (PG_FILE + AGE), recipients)
            try:
                tables = table_stats(snap)
            finally:
                encryption_error = encryption.wait()
                code = proc.wait()
        stderr = errors.read_text(errors="replace").strip()
        errors.unlink()
        snap.execute("COMMIT")
    if code != 0:
        raise BackupError(f"pg_dump failed (exit {code}): {stderr[-2000:]}")
    if encryption_error:
        raise BackupError(encryption_error)
    manifest["postgres"] = {
        "database": dbname,
        "role": backup_cfg.get("USER"),
        "server_version": server_version,
        "snapshot": snapshot,
        "file": PG_FILE + AGE,
        "tables": tables,
        "seconds": round(time.monotonic() - pg_started, 3),
    }
    # 2. The document database, in mongodump's directory format.
    mongo_started = time.monotonic()
    mongo_name = mongo_db_name()
    out = target / MONGO_DIR
    (out / mongo_name).mkdir(parents=True)
    tool, collections = _mongo_dump(out, mongo_name, recipients)
    manifest["mongo"] = {
        "database": mongo_name,
        "tool": tool,
        "dir": f"{MONGO_DIR}/{mongo_name}",
        "collections": collections,
        "seconds": round(time.monotonic() - mongo_started, 3),
    }
    # 3. Sizes and hashes of every file.
    manifest["files"] = {
        str(path.relative_to(target)): {"size": path.stat().st_size, "sha256": sha256_file(path)}
        for path in sorted(target.rglob("*"))
        if path.is_file()
    }
    manifest["finished_at"] = datetime.now(UTC).isoformat()
    return manifest


class _DocumentStream(io.RawIOBase):
    """A cursor's raw BSON documents as one byte stream (the content of a mongodump .bson
    file), counted and hashed on the way as bson_file_stats would, so the documents are
    encrypted as they arrive and no clear copy is written."""

    def __init__(self, cursor: Iterable[RawBSONDocument]) -> None:
        self._docs = iter(cursor)
        self._pending = bytearray()
        self.documents = 0
        self._total = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while len(self._pending) < len(buffer):
            doc = next(self._docs, None)
            if doc is None:
                break
            self.documents += 1
            self._total = (self._total + _doc_hash(doc.raw)) % (1 << 64)
            self._pending += doc.raw
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        del self._pending[:size]
        return size

    def stats(self) -> dict[str, Any]:
        return {"documents": self.documents, "checksum": f"{self._total:016x}"}


def _mongo_dump(out: Path, mongo_name: str, recipients: list[Any]) -> tuple[str, dict[str, dict[str, Any]]]:
    """The document database into out/<db>/, encrypted; the tool used and per-collection figures."""
    target = out / mongo_name
    collections: dict[str, dict[str, Any]] = {}
    mongodump = shutil.which("mongodump")
    if mongodump:
        # mongodump writes files: into a private (0700) directory, encrypted from there, then removed.
        clear = Path(tempfile.mkdtemp(prefix=".mongodump-", dir=out.parent))
        try:
            result = subprocess.run(
                [mongodump, f"--uri={settings.MONGODB_URI}", f"--db={mongo_name}", f"--out={clear}", "--quiet"],
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0:
                raise BackupError(f"mongodump failed (exit {result.returncode}): {result.stderr[-2000:]}")
            for path in sorted((clear / mongo_name).glob("*")) if (clear / mongo_name).exists() else []:
                if path.suffix == ".bson":
                    collections[path.stem] = bson_file_stats(path)
                with path.open("rb") as source:
                    backup_crypto.encrypt_stream(source, target / (path.name + AGE), recipients)
        finally:
            shutil.rmtree(clear, ignore_errors=True)
        return "mongodump", collections
    client = _mongo_client()
    try:
        db = client[mongo_name]
        for name in sorted(db.list_collection_names()):
            if name.startswith("system."):
                continue
            coll = db.get_collection(name, codec_options=RAW)
            stream = _DocumentStream(coll.find({}, batch_size=2000))
            with io.BufferedReader(stream, buffer_size=1 << 20) as source:
                backup_crypto.encrypt_stream(source, target / f"{name}.bson{AGE}", recipients)
            collections[name] = stream.stats()
            indexes = [dict(index) for index in db[name].list_indexes()]
            metadata = {
                "indexes": indexes,
                "uuid": "",
                "collectionName": name,
                "type": "collection",
                "options": db[name].options(),
            }
            backup_crypto.encrypt_bytes(
                json_util.dumps(metadata, json_options=json_util.CANONICAL_JSON_OPTIONS).encode(),
                target / f"{name}.metadata.json{AGE}",
                recipients,
            )
    finally:
        client.close()
    return "pymongo-bson", collections


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(root: Path) -> None:
    for path in root.rglob("*"):
        if path.is_file():
            with path.open("rb") as handle:
                os.fsync(handle.fileno())
    for path in [root, *[p for p in root.rglob("*") if p.is_dir()]]:
        _fsync_dir(path)


# --- locating backups ---------------------------------------------------------------------------


def resolve_backup(ref: str | Path) -> Path:
    """A backup directory from a path, a name under BACKUP_DIR, or 'latest'."""
    base = Path(settings.BACKUP_DIR)
    if str(ref) == "latest":
        complete = list_backups()
        if not complete:
            raise BackupError(f"no complete backup in {base}")
        return complete[-1]
    path = Path(ref)
    if not path.is_absolute() and not path.exists():
        path = base / path
    if not path.is_dir():
        raise BackupError(f"{ref}: no such backup directory")
    return path.resolve()


def list_backups(base: Path | None = None) -> list[Path]:
    """Complete backups (named by timestamp, with a manifest), oldest first."""
    base = Path(base or settings.BACKUP_DIR)
    if not base.exists():
        return []
    return sorted(p for p in base.iterdir() if p.is_dir() and NAME_RE.match(p.name) and (p / MANIFEST).exists())


def backup_time(path: Path) -> datetime:
    return datetime.strptime(path.name, NAME_FORMAT).replace(tzinfo=UTC)


def load_manifest(path: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((path / MANIFEST).read_text())
    except FileNotFoundError:
        raise BackupError(f"{path / MANIFEST}: missing") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BackupError(f"{path / MANIFEST}: unreadable ({exc})") from None
    if manifest.get("format") not in (FORMAT, FORMAT_CLEAR):
        raise BackupError(f"{path / MANIFEST}: unknown format {manifest.get('format')!r}")
    if manifest["format"] == FORMAT and manifest.get("encryption", {}).get("scheme") != backup_crypto.SCHEME:
        raise BackupError(f"{path / MANIFEST}: does not say how the files were encrypted")
    return manifest


@contextmanager
def _readable(path: Path, manifest: dict[str, Any]) -> Iterator[Path]:
    """The backup with its data files in the clear: a decrypted copy, or the backup itself
    when it was made before encryption (format 1)."""
    if manifest["format"] == FORMAT_CLEAR:
        yield path
        return
    try:
        with backup_crypto.decrypted_copy(path, manifest.get("files", {}), manifest["encryption"]) as clear:
            yield clear
    except backup_crypto.BackupKeyError as exc:
        raise BackupError(str(exc)) from None


# --- restore ------------------------------------------------------------------------------------


@dataclass
class RestoreResult:
    postgres_database: str
    mongo_database: str
    seconds: float
    postgres_seconds: float = 0.0  # decryption included
    mongo_seconds: float = 0.0
    decrypt_seconds: float = 0.0


def restore_backup(path: Path, *, into_live: bool = False, jobs: int | None = None) -> RestoreResult:
    """Restore a backup into the scratch databases, or over the live ones (into_live)."""
    manifest = load_manifest(path)
    lock_key, what = (BACKUP_LOCK_KEY, "backup or live restore") if into_live else (SCRATCH_LOCK_KEY, "scratch restore")
    with advisory_lock(lock_key, what):
        return _restore_locked(path, manifest, into_live=into_live, jobs=jobs)


def _restore_locked(path: Path, manifest: dict[str, Any], *, into_live: bool, jobs: int | None) -> RestoreResult:
    started = time.monotonic()
    # Decrypted first: a missing or wrong key stops the restore before anything is dropped.
    with _readable(path, manifest) as source:
        decrypt_seconds = time.monotonic() - started
        pg_name = live_db_name() if into_live else scratch_db_name()
        mongo_name = mongo_db_name() if into_live else f"{mongo_db_name()}_scratch"
        if not into_live:
            _recreate_database(pg_name)
        # As the superuser: the owner role is itself subject to FORCE ROW LEVEL SECURITY, and
        # pg_restore (row_security off) fails on any statement RLS would filter, e.g. the
        # foreign-key validation of a protected table. Ownership is restored as dumped.
        args, env = _pg_cli_args(settings.DATABASE_SUPERUSER, pg_name)
        command = ["pg_restore", "--exit-on-error"]
        if into_live:
            command += ["--clean", "--if-exists", "--single-transaction"]
        else:
            command += [f"--jobs={jobs or min(4, os.cpu_count() or 1)}"]
        result = subprocess.run(
            [*command, *args, str(source / PG_FILE)], env=env, capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise BackupError(f"pg_restore into {pg_name} failed (exit {result.returncode}): {result.stderr[-2000:]}")
        pg_seconds = time.monotonic() - started
        _mongo_restore(source, manifest, mongo_name)
    total = time.monotonic() - started
    return RestoreResult(
        pg_name,
        mongo_name,
        round(total, 3),
        round(pg_seconds, 3),
        round(total - pg_seconds, 3),
        round(decrypt_seconds, 3),
    )


def _recreate_database(name: str) -> None:
    if name == live_db_name():
        raise BackupError("refusing to recreate the live database")
    owner = settings.DATABASE_OWNER
    with _superuser_connect() as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        # template0: a pristine database; the restore creates the extensions itself.
        conn.execute(
            sql.SQL("CREATE DATABASE {} OWNER {} TEMPLATE template0 ENCODING 'UTF8'").format(
                sql.Identifier(name), sql.Identifier(owner["USER"])
            )
        )


def _superuser_connect() -> psycopg.Connection:
    config = settings.DATABASE_SUPERUSER
    try:
        return _pg_connect(config, config.get("NAME") or "postgres")
    except psycopg.Error as exc:
        raise BackupError(f"restores need the PostgreSQL superuser (DATABASE_SUPERUSER_URL): {exc}") from None


def drop_scratch() -> None:
    """Remove the scratch databases (after a verification)."""
    with _superuser_connect() as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(scratch_db_name())))
    client = _mongo_client()
    try:
        client.drop_database(f"{mongo_db_name()}_scratch")
    finally:
        client.close()


def _mongo_restore(path: Path, manifest: dict[str, Any], target_db: str) -> None:
    source_db = manifest["mongo"]["database"]
    source_dir = path / manifest["mongo"]["dir"]
    mongorestore = shutil.which("mongorestore")
    if mongorestore:
        result = subprocess.run(
            [
                mongorestore,
                f"--uri={settings.MONGODB_URI}",
                "--drop",
                f"--nsFrom={source_db}.*",
                f"--nsTo={target_db}.*",
                f"--nsInclude={source_db}.*",
                "--quiet",
                str(path / MONGO_DIR),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise BackupError(f"mongorestore failed (exit {result.returncode}): {result.stderr[-2000:]}")
        return
    client = _mongo_client()
    try:
        db = client[target_db]
        for name in list(db.list_collection_names()):
            if not name.startswith("system."):
                db.drop_collection(name)
        for bson_path in sorted(source_dir.glob("*.bson")) if source_dir.exists() else []:
            name = bson_path.stem
            coll = db.get_collection(name, codec_options=RAW)
            batch: list[RawBSONDocument] = []
            batch_bytes = 0
            with bson_path.open("rb") as handle:
                for doc in decode_file_iter(handle, codec_options=RAW):
                    batch.append(doc)
                    batch_bytes += len(doc.raw)
                    if len(batch) >= 1000 or batch_bytes >= 8 << 20:
                        coll.insert_many(batch, ordered=False)
                        batch, batch_bytes = [], 0
            if batch:
                coll.insert_many(batch, ordered=False)
            meta_path = source_dir / f"{name}.metadata.json"
            if meta_path.exists():
                metadata = json_util.loads(meta_path.read_text())
                for index in metadata.get("indexes", []):
                    if index.get("name") == "_id_":
                        continue
                    keys = list(dict(index["key"]).items())
                    options = {k: v for k, v in index.items() if k not in ("key", "v", "ns")}
                    db[name].create_index(keys, **options)
    finally:
        client.close()


# --- verification -------------------------------------------------------------------------------


@dataclass
class VerifyResult:
    ok: bool
    problems: list[str]
    checked: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "problems": self.problems, **self.checked}


def check_files(path: Path, manifest: dict[str, Any]) -> list[str]:
    """Size and sha256 of every file against the manifest; each problem names its file."""
    problems = []
    listed = manifest.get("files", {})
    for rel, expected in sorted(listed.items()):
        file = path / rel
        if not file.is_file():
            problems.append(f"{rel}: missing")
            continue
        size = file.stat().st_size
        if size < expected["size"]:
            problems.append(f"{rel}: truncated ({size} of {expected['size']} bytes)")
        elif size > expected["size"]:
            problems.append(f"{rel}: corrupted (size {size}, manifest says {expected['size']})")
        elif sha256_file(file) != expected["sha256"]:
            problems.append(f"{rel}: corrupted (sha256 differs from the manifest)")
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        rel = str(file.relative_to(path))
        if rel not in listed and rel not in (MANIFEST, VERIFY_FILE):
            problems.append(f"{rel}: not in the manifest")
    return problems


def verify_backup(path: Path, *, keep_scratch: bool = False) -> VerifyResult:
    """Check the files, restore into scratch, compare counts and checksums; record the result."""
    started = time.monotonic()
    problems: list[str] = []
    checked: dict[str, Any] = {"backup": path.name, "verified_at": datetime.now(UTC).isoformat()}
    record = BackupRecord.objects.filter(path=str(path)).first()
    try:
        manifest = load_manifest(path)
    except BackupError as exc:
        manifest = None
        problems.append(str(exc).replace(str(path) + "/", ""))
    if manifest is not None:
        manifest_sha = sha256_file(path / MANIFEST)
        if record and record.manifest_sha256 and record.manifest_sha256 != manifest_sha:
            problems.append(f"{MANIFEST}: corrupted (sha256 differs from the one recorded when the backup was made)")
        problems += check_files(path, manifest)
        checked["files"] = len(manifest.get("files", {}))
        checked["file_check_seconds"] = round(time.monotonic() - started, 3)
    if manifest is not None and not problems and manifest["format"] != FORMAT_CLEAR:
        # No key at all is the verifier's problem, not the backup's: say so, record nothing.
        try:
            backup_crypto.configured_identities()
        except backup_crypto.BackupKeyError as exc:
            raise BackupError(str(exc)) from None
    if manifest is not None and not problems:
        try:
            with advisory_lock(SCRATCH_LOCK_KEY, "scratch restore"):
                restored = _restore_locked(path, manifest, into_live=False, jobs=None)
                checked["restore_seconds"] = restored.seconds
                checked["restore_postgres_seconds"] = restored.postgres_seconds
                checked["restore_documents_seconds"] = restored.mongo_seconds
                checked["decrypt_seconds"] = restored.decrypt_seconds
                compare_started = time.monotonic()
                problems += _compare_scratch(manifest, restored)
                checked["compare_seconds"] = round(time.monotonic() - compare_started, 3)
                if not keep_scratch:
                    drop_scratch()
        except BackupError as exc:
            problems.append(str(exc))
        checked["tables"] = len(manifest["postgres"]["tables"])
        checked["collections"] = len(manifest["mongo"]["collections"])
        checked["rows"] = sum(t["rows"] for t in manifest["postgres"]["tables"].values())
        checked["documents"] = sum(c["documents"] for c in manifest["mongo"]["collections"].values())
    checked["seconds"] = round(time.monotonic() - started, 3)
    result = VerifyResult(ok=not problems, problems=problems, checked=checked)
    _record_verification(path, record, result)
    return result


def _compare_scratch(manifest: dict[str, Any], restored: RestoreResult) -> list[str]:
    problems = []
    with _pg_connect(settings.DATABASE_BACKUP, restored.postgres_database) as conn:
        conn.execute(STABLE_TEXT_SQL)
        actual = table_stats(conn)
    expected = manifest["postgres"]["tables"]
    for table, want in sorted(expected.items()):
        got = actual.get(table)
        if got is None:
            problems.append(f"postgres table {table}: missing after restore")
        elif got["rows"] != want["rows"]:
            problems.append(f"postgres table {table}: {got['rows']} rows restored, manifest says {want['rows']}")
        elif got["checksum"] != want["checksum"]:
            problems.append(f"postgres table {table}: content checksum differs from the manifest")
    for table in sorted(set(actual) - set(expected)):
        problems.append(f"postgres table {table}: restored but not in the manifest")
    client = _mongo_client()
    try:
        db = client[restored.mongo_database]
        for name, want in sorted(manifest["mongo"]["collections"].items()):
            got = collection_stats(db, name)
            if got["documents"] != want["documents"]:
                problems.append(
                    f"mongo collection {name}: {got['documents']} documents restored, manifest says {want['documents']}"
                )
            elif got["checksum"] != want["checksum"]:
                problems.append(f"mongo collection {name}: content checksum differs from the manifest")
    finally:
        client.close()
    return problems


def _record_verification(path: Path, record: BackupRecord | None, result: VerifyResult) -> None:
    now = timezone.now()
    payload = result.as_json()
    if record is None:
        manifest_sha = sha256_file(path / MANIFEST) if (path / MANIFEST).exists() else ""
        record, _ = BackupRecord.objects.get_or_create(
            path=str(path),
            defaults={
                "status": BackupStatus.OK,
                "started_at": backup_time(path) if NAME_RE.match(path.name) else now,
                "manifest_sha256": manifest_sha,
            },
        )
    BackupRecord.objects.filter(pk=record.pk).update(verified_at=now, verify_ok=result.ok, verify_result=payload)
    try:
        (path / VERIFY_FILE).write_text(json.dumps(payload, indent=2, sort_keys=True))
    except OSError:
        logger.warning("could not write %s", path / VERIFY_FILE, exc_info=True)


def verify_latest() -> VerifyResult | None:
    """Verify the newest complete backup (the weekly job)."""
    for record in BackupRecord.objects.filter(status=BackupStatus.OK).order_by("-started_at"):
        path = Path(record.path)
        if (path / MANIFEST).exists():
            return verify_backup(path)
    return None


def last_verification() -> dict[str, Any]:
    """For the admin dashboard: the last verification, and the last backup proven good."""
    last = BackupRecord.objects.filter(verified_at__isnull=False).order_by("-verified_at").first()
    good = BackupRecord.objects.filter(verify_ok=True).order_by("-started_at").first()
    latest = BackupRecord.objects.order_by("-started_at").first()
    return {"last_check": last, "last_good": good, "latest": latest}


# --- retention ----------------------------------------------------------------------------------


def _verified_ok(path: Path) -> bool:
    if BackupRecord.objects.filter(path=str(path), verify_ok=True).exists():
        return True
    try:
        return bool(json.loads((path / VERIFY_FILE).read_text()).get("ok"))
    except (OSError, ValueError):
        return False


def _abandoned_partials(base: Path, now: datetime) -> list[Path]:
    """Partial directories of runs that died, older than a day. None while a backup runs."""
    candidates = []
    for partial in base.glob(".*.partial"):
        name = partial.name[1 : -len(".partial")]
        try:
            started = datetime.strptime(name, NAME_FORMAT).replace(tzinfo=UTC)
        except ValueError:
            started = datetime.fromtimestamp(partial.stat().st_mtime, UTC)
        if partial.is_dir() and started < now - timedelta(days=1):
            candidates.append(partial)
    if not candidates:
        return []
    try:
        with advisory_lock(BACKUP_LOCK_KEY, "backup"):
            return candidates
    except BackupBusy:
        return []


def backup_retention(*, now: datetime | None = None, dry_run: bool = False, base: Path | None = None) -> list[Path]:
    """Delete backups older than BACKUP_RETENTION_DAYS, never the last verified one nor the
    newest one, plus abandoned partial directories. Returns what was (or would be) deleted."""
    now = now or timezone.now()
    base = Path(base or settings.BACKUP_DIR)
    complete = list_backups(base)
    keep: set[Path] = set()
    if complete:
        keep.add(complete[-1])
    verified = [p for p in complete if _verified_ok(p)]
    if verified:
        keep.add(verified[-1])
    cutoff = now - timedelta(days=settings.BACKUP_RETENTION_DAYS)
    doomed = [p for p in complete if p not in keep and backup_time(p) < cutoff]
    if base.exists():
        doomed += _abandoned_partials(base, now)
    if dry_run:
        return doomed
    for path in doomed:
        shutil.rmtree(path, ignore_errors=True)
        BackupRecord.objects.filter(path=str(path)).update(status=BackupStatus.DELETED)
    return doomed
