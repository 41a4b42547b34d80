"""Retention: old sealed rows move to audit_log_archive and the chain still verifies across the cut."""

from __future__ import annotations

from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.models import Team
from audit.chain import verify_chain
from audit.models import AuditLog, AuditLogArchive
from audit.services import audit_archive_expired, audit_seal_all
from audit.tests.helpers import owner_connection, owner_scalar, tamper
from taskforge.dbcontext import DbContext, db_context

ADMIN = DbContext(user_id="1", role="system", request_id="retention-test")


def _teams(n: int) -> list[int]:
    import uuid

    tag = uuid.uuid4().hex[:8]
    with db_context(ADMIN):
        return [t.pk for t in Team.objects.bulk_create([Team(name=f"r{i}", slug=f"r-{tag}-{i}") for i in range(n)])]


def _audit_ids() -> list[int]:
    with owner_connection() as conn:
        return [r[0] for r in conn.execute("SELECT id FROM audit_log ORDER BY id").fetchall()]


def _backdate(ids: list[int], days: int) -> None:
    """As the owner, before sealing (the hash covers created_at): make rows look old."""
    with owner_connection() as conn:
        conn.execute(
            "UPDATE audit_log SET created_at = now() - make_interval(days => %s) WHERE id = ANY(%s)", [days, ids]
        )


def test_retention_moves_a_prefix_of_the_chain_and_it_still_verifies(committed_db) -> None:
    _teams(10)
    ids = _audit_ids()
    old = settings.AUDIT_RETENTION_DAYS + 5
    # Rows 1-5 and 8-10 are old, 6-7 are young: the cut stops at the first young row,
    # so the archive stays a prefix of the chain.
    _backdate(ids[:5] + ids[7:], old)
    out = StringIO()
    call_command("audit_retention", stdout=out)
    assert f"archived 5 audit row(s) older than {settings.AUDIT_RETENTION_DAYS} day(s)" in out.getvalue()
    with owner_connection() as conn:
        archived = [r[0] for r in conn.execute("SELECT seal_seq FROM audit_log_archive ORDER BY seal_seq")]
        live = [r[0] for r in conn.execute("SELECT seal_seq FROM audit_log ORDER BY seal_seq")]
    assert archived == [1, 2, 3, 4, 5] and live == [6, 7, 8, 9, 10]
    report = verify_chain()
    assert report.ok, report.broken
    assert report.per_source == {"audit_log_archive": 5, "audit_log": 5} and report.head_seq == 10
    verify_out = StringIO()
    call_command("verify_audit", stdout=verify_out)
    assert "checked 10 sealed row(s) (audit_log_archive 5, audit_log 5)" in verify_out.getvalue()


def test_everything_archived_then_new_rows_continue_the_chain(committed_db) -> None:
    _teams(4)
    _backdate(_audit_ids(), 400)
    assert audit_archive_expired(days=90) == 4
    assert owner_scalar("SELECT count(*) FROM audit_log") == 0
    assert verify_chain().ok  # the head still anchors the end of the chain
    _teams(3)
    audit_seal_all()
    report = verify_chain()
    assert report.ok and report.per_source == {"audit_log_archive": 4, "audit_log": 3} and report.head_seq == 7


def test_tampering_in_the_archive_is_found(committed_db) -> None:
    _teams(5)
    _backdate(_audit_ids(), 200)
    audit_archive_expired(days=30)
    victim = owner_scalar("SELECT id FROM audit_log_archive WHERE seal_seq = 2")
    tamper("UPDATE audit_log_archive SET operation = 'DELETE' WHERE id = %s", [victim], table="audit_log_archive")
    with pytest.raises(CommandError, match=rf"audit_log_archive row id {victim} .*hash mismatch"):
        call_command("verify_audit", stdout=StringIO(), stderr=StringIO())


def test_young_rows_stay_and_archived_rows_stay_readable_by_admins_only(committed_db) -> None:
    _teams(3)
    _backdate(_audit_ids()[:1], 100)
    assert audit_archive_expired(days=90) == 1
    assert audit_archive_expired(days=90) == 0  # idempotent
    assert AuditLogArchive.objects.count() == 0  # no context: nothing visible
    with db_context(DbContext(user_id="5", role="user")):
        assert AuditLogArchive.objects.count() == 0
    with db_context(ADMIN):
        assert AuditLogArchive.objects.count() == 1 and AuditLog.objects.count() == 2


def test_bad_retention_periods_are_refused(committed_db) -> None:
    with pytest.raises(CommandError, match="at least 1"):
        call_command("audit_retention", days=0, stdout=StringIO())
    with pytest.raises(ValueError, match="at least one day"):
        audit_archive_expired(days=0)
    import psycopg
    from django.db import DatabaseError, connection

    # The application role may not call it at all; the owner gets the function's own refusal.
    denied = "permission denied for function audit_archive"
    with pytest.raises(DatabaseError, match=denied), connection.cursor() as cursor:
        cursor.execute("SELECT audit_archive(0, 10)")
    with owner_connection() as conn, pytest.raises(psycopg.Error, match="at least one day"):
        conn.execute("SELECT audit_archive(0, 10)")


def test_beat_runs_the_sealer_every_few_seconds_and_retention_weekly() -> None:
    schedule = settings.CELERY_BEAT_SCHEDULE
    assert schedule["audit-seal"]["task"] == "audit.seal" and schedule["audit-seal"]["schedule"] <= 10
    assert schedule["audit-retention-weekly"]["task"] == "audit.retention"


def test_the_browser_shows_archived_entries_and_history_spans_the_cut(committed_db, client) -> None:
    from accounts.models import User

    admin = User.objects.create_superuser("archivist@example.com", "correct-horse-battery")
    with db_context(DbContext(user_id=str(admin.pk), role="system")):
        team = Team.objects.create(name="Old name", slug="archived-team")
    _backdate(_audit_ids(), 120)  # the user's and the team's creation are old
    with db_context(DbContext(user_id=str(admin.pk), role="system")):
        Team.objects.filter(pk=team.pk).update(name="New name")  # young
    assert audit_archive_expired(days=90) == 3  # the user, their site_admin grant, the team
    client.force_login(admin)
    archived = client.get("/audit/", {"source": "archive", "table": "accounts_team"}).content.decode()
    assert "1 entry in the archive" in archived and "?source=archive" in archived
    live = client.get("/audit/", {"table": "accounts_team"}).content.decode()
    assert "1 entry" in live
    history = client.get(f"/audit/history/accounts_team/{team.pk}/").content.decode()
    assert history.count('class="card audit-history-entry"') == 2 and "Old name" in history and "New name" in history
    entry_id = owner_scalar("SELECT id FROM audit_log_archive WHERE table_name = 'accounts_team'")
    assert client.get(f"/audit/entry/{entry_id}/", {"source": "archive"}).status_code == 200
    assert client.get(f"/audit/entry/{entry_id}/").status_code == 404  # not in the live log any more
