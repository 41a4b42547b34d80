"""The hash chain: sealing, verification, tamper detection, late commits, concurrent sealers."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import psycopg
import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.models import Team
from audit.chain import GENESIS, link_hash, verify_chain
from audit.services import audit_seal_all
from audit.tests.helpers import app_connection, database_name, owner_connection, owner_scalar, set_context, tamper
from taskforge.dbcontext import DbContext, db_context

ADMIN = DbContext(user_id="1", role="system", request_id="chain-test-0001")


def _make_rows(n: int, prefix: str = "team") -> list[int]:
    with db_context(ADMIN):
        teams = Team.objects.bulk_create([Team(name=f"{prefix} {i}", slug=f"{prefix}-{i}") for i in range(n)])
    return [t.pk for t in teams]


def _audit_id(table: str, record_id: object) -> int:
    return owner_scalar(
        "SELECT id FROM audit_log WHERE table_name = %s AND record_id = %s ORDER BY id LIMIT 1", [table, str(record_id)]
    )


def _verify(capsys: pytest.CaptureFixture[str] | None = None, **kwargs: object) -> str:
    from io import StringIO

    out = StringIO()
    call_command("verify_audit", stdout=out, stderr=StringIO(), **kwargs)
    return out.getvalue()


def test_sealed_chain_verifies(committed_db) -> None:
    _make_rows(30)
    output = _verify()
    assert "sealed 30 pending row(s)" in output
    assert "checked 30 sealed row(s)" in output
    assert "audit chain intact" in output
    # The chain is what the module docstring says: sha256(prev || "\n" || canonical), from GENESIS.
    with owner_connection() as conn:
        first = conn.execute("SELECT seal_seq, row_hash FROM audit_log ORDER BY seal_seq LIMIT 1").fetchone()
        head = conn.execute("SELECT seal_seq, row_hash FROM audit_chain_head").fetchone()
        last = conn.execute("SELECT row_hash FROM audit_log ORDER BY seal_seq DESC LIMIT 1").fetchone()
    assert first[0] == 1 and len(first[1]) == 64 and first[1] != GENESIS
    assert head == (30, last[0])
    # Nothing left to seal: a second run seals nothing and still verifies.
    assert "sealed 0 pending row(s)" in _verify()


def test_python_and_sql_canonical_forms_agree_on_awkward_values(committed_db) -> None:
    """Unicode, quotes, separators and NULLs hash identically in SQL (sealer) and Python (verifier)."""
    from audit.services import audit_content_record

    with db_context(
        DbContext(user_id="7", role="user", ip="2001:db8::1", user_agent='ü|~:\n"x"', request_id="req-awkward-1")
    ):
        from django.db import transaction

        with transaction.atomic():
            audit_content_record(
                table="task_detail",
                record_id="a|b:c",
                operation="update",
                old={"t": "naïve ☃ 1:2|3", "n": None, "nested": {"k": [1, 2.5, "~"]}},
                new={"t": "", "emoji": "🚀", "quote": "'\"\\"},
            )
            audit_content_record(table="task_detail", record_id="x", operation="DELETE", old={"a": 1}, new=None)
    report = verify_chain() if audit_seal_all() == 2 else None
    assert report is not None and report.ok and report.checked == 2, report


def test_tampering_as_the_owner_is_found_and_named(committed_db) -> None:
    ids = _make_rows(10)
    audit_seal_all()
    victim = _audit_id("accounts_team", ids[4])
    forge = "UPDATE audit_log SET new_values = jsonb_set(new_values, '{name}', '\"forged\"') WHERE id = %s"
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="sealed"), owner_connection() as conn:
        conn.execute(forge, [victim])  # the guard trigger stops a plain UPDATE, even by the owner ...
    assert tamper(forge, [victim]) == 1  # ... but the owner can switch it off (RLS is no obstacle either) ...
    with pytest.raises(CommandError) as excinfo:
        _verify()
    message = str(excinfo.value)
    # ... but the verifier names exactly that row.
    assert f"row id {victim} " in message and "hash mismatch" in message and "audit_log " in message
    assert f"#{ids[4]}" in message


def test_verify_audit_exits_non_zero_on_a_break(committed_db) -> None:
    ids = _make_rows(3)
    audit_seal_all()
    tamper("UPDATE audit_log SET user_id = 999 WHERE id = %s", [_audit_id("accounts_team", ids[0])])
    db = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db.get('HOST') or '127.0.0.1'}:"
        f"{db.get('PORT') or 5432}/{database_name()}",
    }
    if db.get("PASSWORD"):
        env["DATABASE_URL"] = env["DATABASE_URL"].replace(f"{db['USER']}@", f"{db['USER']}:{db['PASSWORD']}@")
    result = subprocess.run(
        [sys.executable, "manage.py", "verify_audit"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "audit chain broken" in result.stderr and "hash mismatch" in result.stderr


def test_deleting_a_sealed_row_or_the_tail_is_found(committed_db) -> None:
    ids = _make_rows(6)
    audit_seal_all()
    middle, last = _audit_id("accounts_team", ids[2]), _audit_id("accounts_team", ids[5])
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="never deleted"), owner_connection() as conn:
        conn.execute("DELETE FROM audit_log WHERE id = %s", [last])
    tamper("DELETE FROM audit_log WHERE id = %s", [last])
    report = verify_chain()
    assert not report.ok and report.broken.source == "audit_chain_head"
    assert "removed from the end" in report.broken.reason
    tamper("DELETE FROM audit_log WHERE id = %s", [middle])
    report = verify_chain()
    assert not report.ok and "seal_seq 3..3 missing" in report.broken.reason
    assert report.broken.row_id == _audit_id("accounts_team", ids[3])


def test_unsealing_a_row_by_hand_is_found(committed_db) -> None:
    ids = _make_rows(4)
    audit_seal_all()
    victim = _audit_id("accounts_team", ids[1])
    tamper("UPDATE audit_log SET seal_seq = NULL, row_hash = NULL WHERE id = %s", [victim])
    report = verify_chain()
    assert not report.ok and "missing" in report.broken.reason and report.broken.seal_seq == 3


def test_a_row_committed_late_with_a_lower_id_is_sealed_later_and_the_chain_holds(committed_db) -> None:
    """Ids are handed out before commit: an older transaction can commit after newer rows were sealed."""
    slow_team, *fast_teams = _make_rows(4)
    assert audit_seal_all() == 4
    slow = app_connection()
    try:
        set_context(slow, user_id="41", role="staff", request_id="slow-transaction")
        slow.execute("UPDATE accounts_team SET name = 'slow' WHERE id = %s", [slow_team])  # audit id reserved now
        with db_context(ADMIN):
            for pk in fast_teams:  # higher audit ids, committed first
                Team.objects.filter(pk=pk).update(name=f"fast {pk}")
        assert audit_seal_all() == 3
        slow.commit()
    finally:
        slow.close()
    assert audit_seal_all() == 1
    with owner_connection() as conn:
        fast = conn.execute(
            "SELECT id, seal_seq FROM audit_log WHERE operation = 'UPDATE' AND request_id = %s ORDER BY id",
            [ADMIN.request_id],
        ).fetchall()
        slow_row = conn.execute("SELECT id, seal_seq FROM audit_log WHERE request_id = 'slow-transaction'").fetchone()
    assert slow_row[0] < min(row_id for row_id, _ in fast)  # lower id ...
    assert slow_row[1] == 8 and [seq for _, seq in fast] == [5, 6, 7]  # ... sealed after them
    assert verify_chain().ok


def test_one_sealer_at_a_time_and_writers_never_wait_for_it(committed_db) -> None:
    team = _make_rows(5)[0]
    holder = app_connection()
    other = app_connection(autocommit=True)
    writer = app_connection(autocommit=True)
    try:
        assert holder.execute("SELECT audit_seal(2, false)").fetchone()[0] == 2  # lock held until commit
        assert other.execute("SELECT audit_seal(100, false)").fetchone()[0] == -1  # busy: returns at once
        # An audited write does not wait for the sealer (it would time out if it did).
        writer.execute("SET lock_timeout = '1s'")
        set_context(writer, user_id="9", role="staff")
        writer.execute("UPDATE accounts_team SET name = 'written meanwhile' WHERE id = %s", [team])
        holder.commit()
        assert other.execute("SELECT audit_seal(100, false)").fetchone()[0] == 4
    finally:
        for conn in (holder, other, writer):
            conn.close()
    assert verify_chain().ok


def test_concurrent_sealers_and_writers_keep_one_chain(committed_db) -> None:
    errors: list[BaseException] = []
    stop = threading.Event()

    teams = _make_rows(4)
    audit_seal_all()

    def write(worker: int) -> None:
        try:
            with app_connection(autocommit=True) as conn:
                set_context(conn, user_id=str(worker), role="staff")
                for i in range(60):
                    conn.execute("UPDATE accounts_team SET name = %s WHERE id = %s", [f"w{worker}-{i}", teams[worker]])
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    def seal() -> None:
        try:
            with app_connection(autocommit=True) as conn:
                while not stop.is_set():
                    conn.execute("SELECT audit_seal(7, %s)", [True])
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    writers = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    sealers = [threading.Thread(target=seal) for _ in range(3)]
    for t in writers + sealers:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    for t in sealers:
        t.join()
    assert not errors, errors
    audit_seal_all()
    report = verify_chain()
    assert report.ok and report.checked == 244 and report.head_seq == 244


def test_the_application_role_cannot_seal_by_hand_or_touch_the_head(db) -> None:
    from django.db import DatabaseError, connection, transaction

    for statement in (
        "UPDATE audit_log SET seal_seq = 1",
        "UPDATE audit_chain_head SET seal_seq = 0",
        "DELETE FROM audit_chain_head",
        "INSERT INTO audit_log_archive (id) VALUES (1)",
    ):
        with pytest.raises(DatabaseError, match="permission denied"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(statement)


def test_link_hash_is_sha256_of_previous_and_content_hash() -> None:
    import hashlib

    from audit.chain import canonical, content_hash

    assert canonical(["ab", None, "", "x|y"]) == "2:ab|~|0:|3:x|y"
    assert content_hash("1:a") == hashlib.sha256(b"1:a").hexdigest()
    assert link_hash(GENESIS, "c0ffee") == hashlib.sha256(f"{GENESIS}\nc0ffee".encode()).hexdigest()


def test_erasing_a_person_redacts_sealed_rows_without_breaking_the_chain(committed_db) -> None:
    """accounts' pseudonymisation rewrites personal data in sealed rows: reported as redacted, links still hold."""
    from django.db import connection
    from django.utils import timezone

    from accounts.models import User

    with db_context(ADMIN):
        person = User.objects.create_user("zed.quill@example.com", "correct-horse-battery", display_name="Zed Quill")
        User.objects.filter(pk=person.pk).update(display_name="Zed Q.")
        others = _make_rows(3)
    audit_seal_all()
    with db_context(ADMIN):
        User.objects.filter(pk=person.pk).update(erased_at=timezone.now(), email=f"erased-{person.pk}@invalid")
        with connection.cursor() as cursor:
            cursor.execute("SELECT accounts_audit_pseudonymise(%s, %s, %s)", [person.pk, "erased", "erased@invalid"])
            assert cursor.fetchone()[0] >= 2
    output = _verify()
    assert "audit chain intact" in output and "had personal data erased" in output
    with owner_connection() as conn:
        values = conn.execute(
            "SELECT string_agg(coalesce(old_values::text, '') || new_values::text, ' '), count(redacted_at) "
            "FROM audit_log WHERE table_name = 'accounts_user' AND record_id = %s",
            [str(person.pk)],
        ).fetchone()
    assert "zed.quill" not in values[0].lower() and "Zed Quill" not in values[0] and values[1] >= 2
    # The same columns changed outside the privileged function are refused, and found if forced.
    victim = _audit_id("accounts_team", others[0])
    forge = "UPDATE audit_log SET ip_address = '198.51.100.7' WHERE id = %s"
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="pseudonymisation"), owner_connection() as conn:
        conn.execute(forge, [victim])
    tamper(forge, [victim])
    report = verify_chain()
    assert not report.ok and report.broken.row_id == victim and "content was changed" in report.broken.reason


def test_verify_audit_says_clearly_when_it_cannot_read_the_log(committed_db, settings) -> None:
    settings.DATABASE_BACKUP = {**settings.DATABASE_BACKUP, "USER": "no_such_role_here"}
    with pytest.raises(CommandError, match="cannot connect as the backup role"):
        _verify(no_seal=True)
    with pytest.raises(CommandError, match="--batch must be at least 1"):
        _verify(batch=0)
