"""Backups of both stores: dump, restore into scratch, verify; damage is detected and named."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from taskforge import backups
from taskforge.dbcontext import DbContext, db_context
from taskforge.jobs_ops import backup_run
from taskforge.models_ops import BackupRecord, BackupStatus

pytestmark = pytest.mark.slow


@pytest.fixture
def backup_dir(settings, tmp_path: Path) -> Path:  # noqa: ANN001
    settings.BACKUP_DIR = tmp_path / "backups"
    return settings.BACKUP_DIR


@pytest.fixture
def populated(committed_db, backup_dir: Path) -> Iterator[dict]:  # noqa: ANN001
    """Committed rows in PostgreSQL (users, a team) and documents in two collections."""
    from accounts.models import Membership, Team, User
    from taskforge.mongo import mongo_db

    with db_context(DbContext(role="system", user_agent="test")):
        users = [User.objects.create_user(f"backup{i}@example.com", "correct-horse-battery") for i in range(7)]
        team = Team.objects.create(name="Backups", slug="backups", created_by=users[0])
        for user in users[:3]:
            Membership.objects.create(team=team, user=user, role="member")
    db = mongo_db()
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
    backups.drop_scratch()


def _corrupt(path: Path, offset: int | None = None) -> None:
    data = bytearray(path.read_bytes())
    at = len(data) // 2 if offset is None else offset
    data[at] ^= 0xFF
    path.write_bytes(bytes(data))


def test_backup_restore_into_scratch_and_verify_counts_and_checksums(populated: dict) -> None:
    from accounts.models import User

    out = io.StringIO()
    call_command("backup", stdout=out)
    assert "backup written" in out.getvalue()
    record = BackupRecord.objects.get()
    assert record.status == BackupStatus.OK
    path = Path(record.path)
    mongo = backups.mongo_db_name()
    # The layout: pg_dump custom format, mongodump directory format, manifest.
    assert (path / "postgres.dump").read_bytes()[:5] == b"PGDMP"
    assert (path / "mongo" / mongo / "bk_trips.bson").stat().st_size > 0
    metadata = json.loads((path / "mongo" / mongo / "bk_trips.metadata.json").read_text())
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
    for rel, info in manifest["files"].items():
        assert backups.sha256_file(path / rel) == info["sha256"]
        assert (path / rel).stat().st_size == info["size"]
    assert record.manifest_sha256 == backups.sha256_file(path / "manifest.json")

    # Restore into scratch and look at the data there with our own eyes.
    out = io.StringIO()
    call_command("restore", path.name, "--target", "scratch", stdout=out)
    assert backups.scratch_db_name() in out.getvalue()
    backup_cfg = settings.DATABASE_BACKUP
    with psycopg.connect(
        host=backup_cfg.get("HOST") or None,
        port=backup_cfg.get("PORT") or None,
        user=backup_cfg["USER"],
        dbname=backups.scratch_db_name(),
    ) as conn:
        emails = {e for (e,) in conn.execute("SELECT email FROM accounts_user").fetchall()}
    assert emails == {f"backup{i}@example.com" for i in range(7)}
    client = backups._mongo_client()
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
    path = Path(backups.backup_create().record.path)
    rel = f"mongo/{backups.mongo_db_name()}/bk_trips.bson"
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
    path = Path(backups.backup_create().record.path)
    dump = path / "postgres.dump"
    size = dump.stat().st_size
    with dump.open("r+b") as handle:
        handle.truncate(size // 2)
    result = backups.verify_backup(path)
    assert not result.ok
    assert result.problems == [f"postgres.dump: truncated ({size // 2} of {size} bytes)"]


def test_edited_manifest_is_detected(populated: dict) -> None:
    """Damage hidden by rewriting the manifest's hashes is caught by the hash recorded at backup time."""
    path = Path(backups.backup_create().record.path)
    rel = f"mongo/{backups.mongo_db_name()}/bk_tasks.bson"
    _corrupt(path / rel)
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["files"][rel]["sha256"] = backups.sha256_file(path / rel)
    (path / "manifest.json").write_text(json.dumps(manifest))
    result = backups.verify_backup(path)
    assert not result.ok
    assert result.problems == [
        "manifest.json: corrupted (sha256 differs from the one recorded when the backup was made)"
    ]


def test_restored_counts_are_compared_with_the_manifest(populated: dict) -> None:
    """A backup copied in from elsewhere (no record) whose manifest disagrees with its content."""
    path = Path(backups.backup_create().record.path)
    BackupRecord.objects.all().delete()
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["postgres"]["tables"]["accounts_user"]["rows"] += 1
    manifest["mongo"]["collections"]["bk_trips"]["checksum"] = "0" * 16
    (path / "manifest.json").write_text(json.dumps(manifest))
    result = backups.verify_backup(path)
    assert not result.ok
    assert "postgres table accounts_user: 7 rows restored, manifest says 8" in result.problems
    assert "mongo collection bk_trips: content checksum differs from the manifest" in result.problems
    assert BackupRecord.objects.get(path=str(path)).verify_ok is False


def test_only_one_backup_at_a_time(populated: dict) -> None:
    with backups.advisory_lock(backups.BACKUP_LOCK_KEY, "backup"):
        with pytest.raises(backups.BackupBusy, match="another backup is running"):
            backups.backup_create()
        with pytest.raises(CommandError, match="another backup is running"):
            call_command("backup")
        assert backup_run("daily-2026-01-01") == "busy"  # a redelivered job while the dump runs
    assert not BackupRecord.objects.exists()
    assert backups.list_backups() == []


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
    assert len(backups.list_backups()) == 2


def test_slot_follows_the_backup_hour(settings) -> None:  # noqa: ANN001
    settings.BACKUP_HOUR = 2
    assert backups.slot_for(datetime(2026, 11, 21, 2, 0, tzinfo=UTC)) == "daily-2026-11-21"
    assert backups.slot_for(datetime(2026, 11, 22, 1, 30, tzinfo=UTC)) == "daily-2026-11-21"  # late redelivery


# --- retention -------------------------------------------------------------------------------


def _fake_backup(base: Path, when: datetime, *, verified: bool | None = None) -> Path:
    path = base / when.strftime(backups.NAME_FORMAT)
    path.mkdir(parents=True)
    (path / "manifest.json").write_text(json.dumps({"format": backups.FORMAT, "files": {}}))
    if verified is not None:
        BackupRecord.objects.create(
            path=str(path), status=BackupStatus.OK, verify_ok=verified, verified_at=when + timedelta(hours=1)
        )
    return path


def test_retention_keeps_30_days_and_never_the_last_verified_backup(db, backup_dir: Path) -> None:  # noqa: ANN001
    now = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)
    verified_old = _fake_backup(backup_dir, now - timedelta(days=45), verified=True)
    failed_old = _fake_backup(backup_dir, now - timedelta(days=40), verified=False)
    plain_old = _fake_backup(backup_dir, now - timedelta(days=31))
    recent = [_fake_backup(backup_dir, now - timedelta(days=d)) for d in (29, 1)]
    partial = backup_dir / ".20261001T020000Z.partial"
    partial.mkdir()
    assert set(backups.backup_retention(now=now, dry_run=True)) == {failed_old, plain_old, partial}
    assert failed_old.exists()
    deleted = backups.backup_retention(now=now)
    assert set(deleted) == {failed_old, plain_old, partial}
    assert verified_old.exists()  # older than 30 days, but the last one proven to restore
    assert all(p.exists() for p in recent)
    assert BackupRecord.objects.get(path=str(failed_old)).status == BackupStatus.DELETED
    # Once a newer backup is verified, the old verified one may go.
    BackupRecord.objects.create(path=str(recent[0]), status=BackupStatus.OK, verify_ok=True)
    assert backups.backup_retention(now=now) == [verified_old]


def test_retention_never_deletes_the_newest_backup(db, backup_dir: Path) -> None:  # noqa: ANN001
    now = datetime(2026, 11, 21, tzinfo=UTC)
    only = _fake_backup(backup_dir, now - timedelta(days=90))
    out = io.StringIO()
    call_command("backup_retention", stdout=out)
    assert only.exists()
    assert "0 backup(s) deleted" in out.getvalue()


# --- restore safety and the dashboard -------------------------------------------------------------


def test_restore_into_live_needs_the_typed_confirmation(db, backup_dir: Path, monkeypatch) -> None:  # noqa: ANN001
    path = _fake_backup(backup_dir, datetime(2026, 11, 20, tzinfo=UTC))
    phrase = f"overwrite {backups.live_db_name()} with {path.name}"
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
    from taskforge.mongo import mongo_db

    path = Path(backups.backup_create().record.path)
    # Damage after the backup: a new user, a deleted user, a changed and a new document.
    with db_context(DbContext(role="system", user_agent="test")):
        User.objects.create_user("after-backup@example.com", "correct-horse-battery")
        User.objects.filter(email="backup0@example.com").delete()
    mongo_db()["bk_trips"].update_one({"_id": "trip-1"}, {"$set": {"title": "vandalised"}})
    mongo_db()["bk_new"].insert_one({"_id": 1})
    phrase = f"overwrite {backups.live_db_name()} with {path.name}"
    out = io.StringIO()
    call_command("restore", path.name, "--into-live", "--confirm", phrase, stdout=out)
    assert "sync_reconcile" in out.getvalue()
    with db_context(DbContext(role="system", user_agent="test")):
        emails = set(User.objects.values_list("email", flat=True))
        # The restored schema still works for the application role, audit trigger included.
        User.objects.create_user("after-restore@example.com", "correct-horse-battery")
    assert emails == {f"backup{i}@example.com" for i in range(7)}
    assert mongo_db()["bk_trips"].find_one({"_id": "trip-1"})["title"] == "Trip 1 — Ålesund"
    assert mongo_db()["bk_trips"].count_documents({}) == 60
    assert "bk_new" not in mongo_db().list_collection_names()
    # And the restored database backs up and verifies like the original.
    assert backups.verify_backup(Path(backups.backup_create().record.path)).ok


def test_admin_dashboard_shows_age_and_result_of_last_verified_backup(client, make_user, backup_dir: Path) -> None:  # noqa: ANN001
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
    assert client.get("/admin/taskforge/backuprecord/").status_code == 200
    client.force_login(make_user("staff"))
    assert client.get("/admin/taskforge/backuprecord/").status_code == 403
