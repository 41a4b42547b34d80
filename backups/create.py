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

Every data file is encrypted at rest with age (backups/crypto.py): pg_dump's
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
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bson import json_util
from bson.raw_bson import RawBSONDocument
from django.conf import settings
from django.utils import timezone

from backups import crypto as backup_crypto
from backups.models import BackupRecord, BackupStatus
from backups.storage import (
    AGE,
    BACKUP_LOCK_KEY,
    FORMAT,
    MANIFEST,
    MONGO_DIR,
    NAME_FORMAT,
    PG_FILE,
    RAW,
    STABLE_TEXT_SQL,
    BackupError,
    advisory_lock,
    bson_file_stats,
    doc_hash,
    live_db_name,
    mongo_client,
    mongo_db_name,
    pg_cli_args,
    pg_connect,
    sha256_file,
    table_stats,
)

logger = logging.getLogger(__name__)

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
    with pg_connect(backup_cfg, dbname) as snap:
        snap.execute(STABLE_TEXT_SQL)
        snap.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        snapshot = snap.execute("SELECT pg_export_snapshot()").fetchone()[0]
        server_version = snap.execute("SHOW server_version").fetchone()[0]
        args, env = pg_cli_args(backup_cfg, dbname)
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
            self._total = (self._total + doc_hash(doc.raw)) % (1 << 64)
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
    client = mongo_client()
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
