"""Backups of both stores: dump, restore into scratch, verify; damage is detected and named.

Backups are encrypted with age; each test makes its own key pair (never a key from the repository).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pyrage
import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from backups.create import backup_create, slot_for
from backups.crypto import (
    configured_recipients,
    ensure_local_identity,
    manifest_entry,
    public_key,
    read_identity_file,
    write_identity_file,
)
from backups.models import BackupRecord, BackupStatus
from backups.restore import drop_scratch, list_backups, load_manifest
from backups.retention import backup_retention
from backups.retention import backup_run_task as backup_run
from backups.storage import (
    BACKUP_LOCK_KEY,
    FORMAT,
    NAME_FORMAT,
    BackupBusy,
    advisory_lock,
    live_db_name,
    mongo_client,
    mongo_db_name,
    scratch_db_name,
    sha256_file,
)
from backups.verify import backup_verify_latest_task as backup_verify_latest
from backups.verify import verify_backup
from taskforge.dbcontext import DbContext, db_context

pytestmark = pytest.mark.slow


@pytest.fixture
def age_key(settings, tmp_path: Path) -> Path:
    """A key pair of this test's own: backups are encrypted to it and decrypted with it."""
    identity_file = tmp_path / "keys" / "backup-identity.txt"
    settings.BACKUP_AGE_RECIPIENTS = [write_identity_file(identity_file)]
    settings.BACKUP_AGE_IDENTITY_FILES = [identity_file]
    return identity_file


@pytest.fixture
def backup_dir(settings, tmp_path: Path, age_key: Path) -> Path:
    settings.BACKUP_DIR = tmp_path / "backups"
    return settings.BACKUP_DIR


def _decrypt(path: Path, identity_file: Path) -> bytes:
    return pyrage.decrypt(path.read_bytes(), read_identity_file(identity_file))


@pytest.fixture
def populated(committed_db, backup_dir: Path) -> Iterator[dict]:
    """Committed rows in PostgreSQL (users, a team) and documents in two collections."""
    from accounts.models import Membership, Team, User
    from taskforge.mongo import documents_db

    with db_context(DbContext(role="system", user_agent="test")):
        users = [User.objects.create_user(f"backup{i}@example.com", "correct-horse-battery") for i in range(7)]
        team = Team.objects.create(name="Backups", slug="backups", created_by=users[0])
        for user in users[:3]:
            Membership.objects.create(team=team, user=user, role="member")
    db = documents_db()
    db["bk_trips"].insert_many(
        [
            {
                "_id": f"trip-{i}",
                "title": f"Trip {i} — Ålesund",
                "price_minor": 1000 * i,
                "tags": ["sea", "fjord"],
                "days": [{"day": 1, "text": "arrive"}],
                "starts": datetime(2027, 1, 1 + i % 28, tzinfo=UTC),
            }
            for i in range(60)
        ]
    )
    db["bk_tasks"].insert_many([{"_id": i, "description": "x" * i, "custom": {"n": i}} for i in range(25)])
    db["bk_trips"].create_index([("price_minor", 1)], name="price_minor_1")
    yield {"users": len(users), "trips": 60, "tasks": 25}
    drop_scratch()


def _corrupt(path: Path, offset: int | None = None) -> None:
    data = bytearray(path.read_bytes())
    at = len(data) // 2 if offset is None else offset
    data[at] ^= 0xFF
    path.write_bytes(bytes(data))


def test_backup_restore_into_scratch_and_verify_counts_and_checksums(populated: dict, age_key: Path) -> None:
    from accounts.models import User

    out = io.StringIO()
    call_command("backup", stdout=out)
    assert "backup written" in out.getvalue()
    record = BackupRecord.objects.get()
    assert record.status == BackupStatus.OK
    path = Path(record.path)
    mongo = mongo_db_name()
    # The layout: age files holding pg_dump's custom format and mongodump's directory format; the manifest.
    assert (path / "postgres.dump.age").read_bytes()[:21] == b"age-encryption.org/v1"
    assert _decrypt(path / "postgres.dump.age", age_key)[:5] == b"PGDMP"
    assert (path / "mongo" / mongo / "bk_trips.bson.age").stat().st_size > 0
    metadata = json.loads(_decrypt(path / "mongo" / mongo / "bk_trips.metadata.json.age", age_key))
    assert metadata["collectionName"] == "bk_trips"
    assert "price_minor" in json.dumps(metadata["indexes"])
    manifest = json.loads((path / "manifest.json").read_text())
    with db_context(DbContext(role="system")):
        user_count = User.objects.count()
    assert manifest["postgres"]["tables"]["accounts_user"]["rows"] == user_count == populated["users"]
    assert manifest["postgres"]["tables"]["accounts_membership"]["rows"] == 3
    assert manifest["postgres"]["role"] == settings.DATABASE_BACKUP["USER"]
    assert manifest["mongo"]["collections"]["bk_trips"]["documents"] == 60
    assert manifest["mongo"]["collections"]["bk_tasks"]["documents"] == 25
    assert manifest["encryption"]["scheme"] == "age-x25519"
    assert manifest["encryption"]["recipients"] == settings.BACKUP_AGE_RECIPIENTS
    for rel, info in manifest["files"].items():
        assert sha256_file(path / rel) == info["sha256"]
        assert (path / rel).stat().st_size == info["size"]
    assert record.manifest_sha256 == sha256_file(path / "manifest.json")
    # At rest nothing is in the clear: every file but the manifest is an age file, and no
    # personal data (an email, a document's text) appears in any byte of the backup.
    files = sorted(p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file())
    assert [f for f in files if not f.endswith(".age")] == ["manifest.json"]
    for file in path.rglob("*"):
        if file.is_file():
            content = file.read_bytes()
            assert b"backup0@example.com" not in content
            assert "Ålesund".encode() not in content

    # Restore into scratch and look at the data there with our own eyes.
    out = io.StringIO()
    call_command("restore", path.name, "--target", "scratch", stdout=out)
    assert scratch_db_name() in out.getvalue()
    backup_cfg = settings.DATABASE_BACKUP
    with psycopg.connect(
        host=backup_cfg.get("HOST") or None,
        port=backup_cfg.get("PORT") or None,
        user=backup_cfg["USER"],
        dbname=scratch_db_name(),
    ) as conn:
        emails = {e for (e,) in conn.execute("SELECT email FROM accounts_user").fetchall()}
    assert emails == {f"backup{i}@example.com" for i in range(7)}
    client = mongo_client()
    try:
        scratch = client[f"{mongo}_scratch"]
        assert scratch["bk_trips"].count_documents({}) == 60
        assert scratch["bk_trips"].find_one({"_id": "trip-3"})["title"] == "Trip 3 — Ålesund"
        assert scratch["bk_tasks"].find_one({"_id": 24})["custom"] == {"n": 24}
    finally:
        client.close()

    # verify_backup: counts and checksums equal, recorded on the BackupRecord.
    out = io.StringIO()
    call_command("verify_backup", path.name, stdout=out)
    assert f"backup {path.name} verified" in out.getvalue()
    record.refresh_from_db()
    assert record.verify_ok is True
    assert record.verified_at is not None
    assert record.verify_result["problems"] == []
    assert record.verify_result["rows"] == sum(t["rows"] for t in manifest["postgres"]["tables"].values())
    assert json.loads((path / "verify.json").read_text())["ok"] is True


def test_corrupted_bson_file_is_detected_and_named(populated: dict) -> None:
    path = Path(backup_create().record.path)
    rel = f"mongo/{mongo_db_name()}/bk_trips.bson.age"
    _corrupt(path / rel)
    with pytest.raises(CommandError) as failure:
        call_command("verify_backup", str(path))
    assert f"{rel}: corrupted" in str(failure.value)
    record = BackupRecord.objects.get(path=str(path))
    assert record.verify_ok is False
    assert any(rel in problem for problem in record.verify_result["problems"])
    # A damaged backup is not restored either.
    with pytest.raises(CommandError, match="damaged"):
        call_command("restore", str(path), "--target", "scratch")


def test_truncated_dump_is_detected_and_named(populated: dict) -> None:
    path = Path(backup_create().record.path)
    dump = path / "postgres.dump.age"
    size = dump.stat().st_size
    with dump.open("r+b") as handle:
        handle.truncate(size // 2)
    result = verify_backup(path)
    assert not result.ok
    assert result.problems == [f"postgres.dump.age: truncated ({size // 2} of {size} bytes)"]


def test_edited_manifest_is_detected(populated: dict) -> None:
    """Damage hidden by rewriting the manifest's hashes is caught by the hash recorded at backup time."""
    path = Path(backup_create().record.path)
    rel = f"mongo/{mongo_db_name()}/bk_tasks.bson.age"
    _corrupt(path / rel)
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["files"][rel]["sha256"] = sha256_file(path / rel)
    (path / "manifest.json").write_text(json.dumps(manifest))
    result = verify_backup(path)
    assert not result.ok
    assert result.problems == [
        "manifest.json: corrupted (sha256 differs from the one recorded when the backup was made)"
    ]


def test_restored_counts_are_compared_with_the_manifest(populated: dict) -> None:
    """A backup copied in from elsewhere (no record) whose manifest disagrees with its content."""
    path = Path(backup_create().record.path)
    BackupRecord.objects.all().delete()
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["postgres"]["tables"]["accounts_user"]["rows"] += 1
    manifest["mongo"]["collections"]["bk_trips"]["checksum"] = "0" * 16
    (path / "manifest.json").write_text(json.dumps(manifest))
    result = verify_backup(path)
    assert not result.ok
    assert "postgres table accounts_user: 7 rows restored, manifest says 8" in result.problems
    assert "mongo collection bk_trips: content checksum differs from the manifest" in result.problems
    assert BackupRecord.objects.get(path=str(path)).verify_ok is False


def test_only_one_backup_at_a_time(populated: dict) -> None:
    with advisory_lock(BACKUP_LOCK_KEY, "backup"):
        with pytest.raises(BackupBusy, match="another backup is running"):
            backup_create()
        with pytest.raises(CommandError, match="another backup is running"):
            call_command("backup")
        assert backup_run("daily-2026-01-01") == "busy"  # a redelivered job while the dump runs
    assert not BackupRecord.objects.exists()
    assert list_backups() == []


def test_a_scheduled_slot_is_backed_up_once(populated: dict) -> None:
    assert backup_run("daily-2026-01-02") == "ok"
    assert backup_run("daily-2026-01-02") == "skipped"  # redelivered after the dump finished
    assert BackupRecord.objects.filter(slot="daily-2026-01-02").count() == 1
    # A run whose process died (record 'running', lock free) is retried, not skipped.
    BackupRecord.objects.create(
        path="/nonexistent/20260103T020000Z", slot="daily-2026-01-03", status=BackupStatus.RUNNING
    )
    assert backup_run("daily-2026-01-03") == "ok"
    assert BackupRecord.objects.get(path="/nonexistent/20260103T020000Z").status == BackupStatus.FAILED
    assert BackupRecord.objects.filter(slot="daily-2026-01-03", status=BackupStatus.OK).count() == 1
    assert len(list_backups()) == 2


def test_slot_follows_the_backup_hour(settings) -> None:
    settings.BACKUP_HOUR = 2
    assert slot_for(datetime(2026, 11, 21, 2, 0, tzinfo=UTC)) == "daily-2026-11-21"
    assert slot_for(datetime(2026, 11, 22, 1, 30, tzinfo=UTC)) == "daily-2026-11-21"  # late redelivery


# --- retention -------------------------------------------------------------------------------


def _fake_backup(base: Path, when: datetime, *, verified: bool | None = None) -> Path:
    path = base / when.strftime(NAME_FORMAT)
    path.mkdir(parents=True)
    encryption = manifest_entry(configured_recipients())
    (path / "manifest.json").write_text(json.dumps({"format": FORMAT, "files": {}, "encryption": encryption}))
    if verified is not None:
        BackupRecord.objects.create(
            path=str(path), status=BackupStatus.OK, verify_ok=verified, verified_at=when + timedelta(hours=1)
        )
    return path


def test_retention_keeps_30_days_and_never_the_last_verified_backup(db, backup_dir: Path) -> None:
    now = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)
    verified_old = _fake_backup(backup_dir, now - timedelta(days=45), verified=True)
    failed_old = _fake_backup(backup_dir, now - timedelta(days=40), verified=False)
    plain_old = _fake_backup(backup_dir, now - timedelta(days=31))
    recent = [_fake_backup(backup_dir, now - timedelta(days=d)) for d in (29, 1)]
    partial = backup_dir / ".20261001T020000Z.partial"
    partial.mkdir()
    # A decrypted copy left behind by a restore that was killed: clear data, so it goes too.
    decrypted = backup_dir / ".20261001T020000Z.decrypted-x1y2.partial"
    decrypted.mkdir()
    old = (now - timedelta(days=2)).timestamp()
    os.utime(decrypted, (old, old))
    assert set(backup_retention(now=now, dry_run=True)) == {failed_old, plain_old, partial, decrypted}
    assert failed_old.exists()
    deleted = backup_retention(now=now)
    assert set(deleted) == {failed_old, plain_old, partial, decrypted}
    assert verified_old.exists()  # older than 30 days, but the last one proven to restore
    assert all(p.exists() for p in recent)
    assert BackupRecord.objects.get(path=str(failed_old)).status == BackupStatus.DELETED
    # Once a newer backup is verified, the old verified one may go.
    BackupRecord.objects.create(path=str(recent[0]), status=BackupStatus.OK, verify_ok=True)
    assert backup_retention(now=now) == [verified_old]


def test_retention_never_deletes_the_newest_backup(db, backup_dir: Path) -> None:
    now = datetime(2026, 11, 21, tzinfo=UTC)
    only = _fake_backup(backup_dir, now - timedelta(days=90))
    out = io.StringIO()
    call_command("backup_retention", stdout=out)
    assert only.exists()
    assert "0 backup(s) deleted" in out.getvalue()


# --- restore safety and the dashboard -------------------------------------------------------------


def test_restore_into_live_needs_the_typed_confirmation(db, backup_dir: Path, monkeypatch) -> None:
    path = _fake_backup(backup_dir, datetime(2026, 11, 20, tzinfo=UTC))
    phrase = f"overwrite {live_db_name()} with {path.name}"
    monkeypatch.setattr("sys.stdin", io.StringIO(phrase + "\n"))  # not a terminal
    with pytest.raises(CommandError, match="stdin is not a terminal") as refused:
        call_command("restore", path.name, "--into-live")
    assert phrase in str(refused.value)
    with pytest.raises(CommandError, match="confirmation does not match"):
        call_command("restore", path.name, "--into-live", "--confirm", "yes")
    with pytest.raises(CommandError, match="no such backup"):
        call_command("restore", "19990101T000000Z", "--target", "scratch")


def test_restore_into_live_puts_both_stores_back_as_they_were(populated: dict) -> None:
    from accounts.models import User
    from taskforge.mongo import documents_db

    path = Path(backup_create().record.path)
    # Damage after the backup: a new user, a deleted user, a changed and a new document.
    with db_context(DbContext(role="system", user_agent="test")):
        User.objects.create_user("after-backup@example.com", "correct-horse-battery")
        User.objects.filter(email="backup0@example.com").delete()
    documents_db()["bk_trips"].update_one({"_id": "trip-1"}, {"$set": {"title": "vandalised"}})
    documents_db()["bk_new"].insert_one({"_id": 1})
    phrase = f"overwrite {live_db_name()} with {path.name}"
    out = io.StringIO()
    call_command("restore", path.name, "--into-live", "--confirm", phrase, stdout=out)
    assert "sync_reconcile" in out.getvalue()
    with db_context(DbContext(role="system", user_agent="test")):
        emails = set(User.objects.values_list("email", flat=True))
        # The restored schema still works for the application role, audit trigger included.
        User.objects.create_user("after-restore@example.com", "correct-horse-battery")
    assert emails == {f"backup{i}@example.com" for i in range(7)}
    assert documents_db()["bk_trips"].find_one({"_id": "trip-1"})["title"] == "Trip 1 — Ålesund"
    assert documents_db()["bk_trips"].count_documents({}) == 60
    assert "bk_new" not in documents_db().list_collection_names()
    # And the restored database backs up and verifies like the original.
    assert verify_backup(Path(backup_create().record.path)).ok


def test_admin_dashboard_shows_age_and_result_of_last_verified_backup(client, make_user, backup_dir: Path) -> None:
    from django.utils import timezone

    admin = make_user("admin")
    client.force_login(admin)
    page = client.get("/admin/").content.decode()
    assert "no backup has passed verification yet" in page
    BackupRecord.objects.create(
        path=str(backup_dir / "20261120T020000Z"),
        status=BackupStatus.OK,
        verify_ok=True,
        verified_at=timezone.now() - timedelta(hours=3),
        verify_result={"problems": []},
    )
    BackupRecord.objects.create(
        path=str(backup_dir / "20261121T020000Z"),
        status=BackupStatus.OK,
        verify_ok=False,
        verified_at=timezone.now() - timedelta(minutes=5),
        verify_result={"problems": ["postgres.dump: truncated (1 of 2 bytes)"]},
    )
    page = client.get("/admin/").content.decode()
    assert "Last verified backup" in page
    assert "20261120T020000Z" in page
    assert "3\xa0hours ago" in page
    assert "FAILED" in page
    assert "postgres.dump: truncated" in page
    assert client.get("/admin/backups/backuprecord/").status_code == 200
    client.force_login(make_user("staff"))
    assert client.get("/admin/backups/backuprecord/").status_code == 403


# --- encryption: keys missing or wrong, rotation, old clear backups ------------------------------------------


def test_backup_is_refused_without_a_recipient(populated: dict, settings) -> None:
    settings.BACKUP_AGE_RECIPIENTS = []
    with pytest.raises(CommandError, match="no recipient is configured: set BACKUP_AGE_RECIPIENTS"):
        call_command("backup")
    assert not BackupRecord.objects.exists()
    assert list_backups() == []


def test_a_wrong_key_is_a_clear_error_and_nothing_is_restored(populated: dict, settings, tmp_path: Path) -> None:
    path = Path(backup_create().record.path)
    encrypted_to = settings.BACKUP_AGE_RECIPIENTS[0]
    stranger = tmp_path / "stranger.txt"
    stranger_public = write_identity_file(stranger)
    settings.BACKUP_AGE_IDENTITY_FILES = [stranger]
    with pytest.raises(CommandError) as refused:
        call_command("restore", path.name, "--target", "scratch")
    message = str(refused.value)
    assert f"{path.name}/" in message and ".age: none of the configured identities can decrypt it" in message
    assert encrypted_to in message and stranger_public in message
    with pytest.raises(CommandError, match="none of the configured identities can decrypt it"):
        call_command("verify_backup", path.name)
    record = BackupRecord.objects.get(path=str(path))
    assert record.verify_ok is False  # this backup cannot be restored with the keys we hold
    # Nothing was restored, and no decrypted copy is left next to the backup.
    with psycopg.connect(**_superuser_kwargs(), dbname="postgres") as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [scratch_db_name()]).fetchone()
    assert found is None
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_a_missing_or_broken_identity_is_a_clear_error(populated: dict, settings, tmp_path: Path) -> None:
    path = Path(backup_create().record.path)
    settings.BACKUP_AGE_IDENTITY_FILES = []
    with pytest.raises(CommandError, match="no age identity is configured to decrypt backups"):
        call_command("verify_backup", path.name)
    # The verifier lacks a key: that says nothing about the backup, so nothing is recorded on it.
    assert BackupRecord.objects.get(path=str(path)).verified_at is None
    assert backup_verify_latest() == "failed"  # the weekly job logs it instead of crashing
    assert BackupRecord.objects.get(path=str(path)).verified_at is None
    with pytest.raises(CommandError, match="no age identity is configured"):
        call_command("restore", path.name, "--target", "scratch")
    settings.BACKUP_AGE_IDENTITY_FILES = [tmp_path / "absent.txt"]
    with pytest.raises(CommandError, match="absent.txt: no such file"):
        call_command("restore", path.name, "--target", "scratch")
    broken = tmp_path / "broken.txt"
    broken.write_text("# a comment\nAGE-SECRET-KEY-1NOTAKEYATALL\n")
    settings.BACKUP_AGE_IDENTITY_FILES = [broken]
    with pytest.raises(CommandError, match="broken.txt line 2 is not an age identity") as refused:
        call_command("verify_backup", path.name)
    assert "NOTAKEYATALL" not in str(refused.value)  # a damaged private key is never echoed


def test_damaged_ciphertext_is_named_when_the_file_check_is_skipped(populated: dict) -> None:
    path = Path(backup_create().record.path)
    _corrupt(path / "postgres.dump.age", offset=4000)
    with pytest.raises(CommandError, match=f"{path.name}/postgres.dump.age: cannot be decrypted, the file is damaged"):
        call_command("restore", path.name, "--target", "scratch", "--skip-file-check")


def test_key_rotation_keeps_old_backups_readable(populated: dict, settings, age_key: Path, tmp_path: Path) -> None:
    old_public = settings.BACKUP_AGE_RECIPIENTS[0]
    old_backup = Path(backup_create().record.path)
    # Rotate: new backups to the new key; both identities listed for restores, the new one first.
    new_key = tmp_path / "new-identity.txt"
    out = io.StringIO()
    call_command("backup_keygen", str(new_key), stdout=out)
    new_public = public_key(read_identity_file(new_key)[0])
    assert f"public key: {new_public}" in out.getvalue()
    assert new_key.stat().st_mode & 0o777 == 0o600
    with pytest.raises(CommandError, match="exists; not overwriting a key"):
        call_command("backup_keygen", str(new_key))
    settings.BACKUP_AGE_RECIPIENTS = [new_public]
    settings.BACKUP_AGE_IDENTITY_FILES = [new_key, age_key]
    new_backup = Path(backup_create().record.path)
    assert load_manifest(new_backup)["encryption"]["recipients"] == [new_public]
    assert load_manifest(old_backup)["encryption"]["recipients"] == [old_public]
    assert verify_backup(old_backup).ok
    assert verify_backup(new_backup).ok
    # The old key retired too early: the old backup says which key it needs; the new one is fine.
    settings.BACKUP_AGE_IDENTITY_FILES = [new_key]
    result = verify_backup(old_backup)
    assert not result.ok
    assert f"encrypted to {old_public}" in result.problems[0]
    assert verify_backup(new_backup).ok


def test_a_backup_made_before_encryption_still_verifies(populated: dict, age_key: Path) -> None:
    """Format 1 (clear files): what BACKUP_DIR holds from before the upgrade stays restorable."""
    path = Path(backup_create().record.path)
    manifest = json.loads((path / "manifest.json").read_text())
    files = {}
    for rel in manifest["files"]:
        clear = path / rel[: -len(".age")]
        clear.write_bytes(_decrypt(path / rel, age_key))
        (path / rel).unlink()
        files[str(clear.relative_to(path))] = {"size": clear.stat().st_size, "sha256": sha256_file(clear)}
    del manifest["encryption"]
    manifest.update(format="taskforge-backup/1", files=files)
    manifest["postgres"]["file"] = "postgres.dump"
    (path / "manifest.json").write_text(json.dumps(manifest))
    BackupRecord.objects.all().delete()  # copied in from elsewhere: no record of its manifest
    result = verify_backup(path)
    assert result.ok, result.problems
    assert result.checked["rows"] > 0


def test_the_local_default_identity_is_made_once_and_kept_private(tmp_path: Path) -> None:
    target = tmp_path / "var" / "backup-age-identity.txt"
    public = ensure_local_identity(target)
    assert public.startswith("age1")
    assert target.stat().st_mode & 0o777 == 0o600
    assert ensure_local_identity(target) == public  # a second start keeps the key
    assert [p.name for p in target.parent.iterdir()] == [target.name]


def test_dev_and_test_profiles_back_up_out_of_the_box() -> None:
    """Nothing configured (a fresh `make run` / `make test`): the per-checkout key pair in var/."""
    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BACKUP_AGE_", "DJANGO_SETTINGS_PROFILE"))}
    code = (
        "from django.conf import settings as s; from backups.crypto import configured_recipients as r; "
        "print(r()[0], s.BACKUP_AGE_LOCAL_IDENTITY)"
    )
    command = [sys.executable, "manage.py", "shell", "-c", code]
    result = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    recipient, identity_file = result.stdout.strip().splitlines()[-1].split()
    assert Path(identity_file) == root / "var" / "backup-age-identity.txt"
    assert recipient == public_key(read_identity_file(Path(identity_file))[0])


def _superuser_kwargs() -> dict:
    from taskforge import pgconn

    return pgconn.connect_kwargs(settings.DATABASE_SUPERUSER)
