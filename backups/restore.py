"""Finding backups and restoring one: into the scratch databases (verification) or, with
a typed confirmation, into the live ones (`manage.py restore`)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from bson import decode_file_iter, json_util
from bson.raw_bson import RawBSONDocument
from django.conf import settings
from psycopg import sql

from backups import crypto as backup_crypto
from backups.storage import (
    BACKUP_LOCK_KEY,
    FORMAT,
    FORMAT_CLEAR,
    MANIFEST,
    MONGO_DIR,
    NAME_FORMAT,
    NAME_RE,
    PG_FILE,
    RAW,
    SCRATCH_LOCK_KEY,
    BackupError,
    advisory_lock,
    live_db_name,
    mongo_client,
    mongo_db_name,
    pg_cli_args,
    pg_connect,
    scratch_db_name,
)

logger = logging.getLogger(__name__)

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
        return restore_locked(path, manifest, into_live=into_live, jobs=jobs)


def restore_locked(path: Path, manifest: dict[str, Any], *, into_live: bool, jobs: int | None) -> RestoreResult:
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
        args, env = pg_cli_args(settings.DATABASE_SUPERUSER, pg_name)
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
        return pg_connect(config, config.get("NAME") or "postgres")
    except psycopg.Error as exc:
        raise BackupError(f"restores need the PostgreSQL superuser (DATABASE_SUPERUSER_URL): {exc}") from None


def drop_scratch() -> None:
    """Remove the scratch databases (after a verification)."""
    with _superuser_connect() as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(scratch_db_name())))
    client = mongo_client()
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
    client = mongo_client()
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
