"""Personal data: the export (both stores), the audit functions, and erasure leaving no trace."""

from __future__ import annotations

import io
import json

import pytest
from bson import ObjectId
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DatabaseError, connection, transaction
from django.test import Client
from PIL import Image

from accounts.export import (
    ERASURE_AGGREGATE,
    ErasureSubject,
    eraser_register,
    erasers,
    exporter_register,
    exporters,
)
from accounts.models import ErasureRecord, LoginAttempt, Membership, Profile, User, UserSession
from accounts.tests.conftest import client_for
from taskforge.dbcontext import DbContext, db_context
from taskforge.mongo import documents_collection, documents_db
from tasks.models import Notification, TaskComment

C1, C2 = ObjectId(), ObjectId()  # comment ids (the content model's ObjectIds)

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"
EMAIL = "zebulon.quillfeather@example.com"
FIRST, LAST = "Zebulon", "Quillfeather"
TERMS = (EMAIL, FIRST, LAST)


@pytest.fixture
def zed(world, django_capture_on_commit_callbacks):
    """A staff member with a profile, an avatar, a team, sessions, sign-in attempts and emails."""
    from accounts.services.invitations import invitation_create

    with django_capture_on_commit_callbacks(execute=True):
        invitation, token = invitation_create(actor=world.team_admin, team=world.team, email=EMAIL, role="member")
    browser = Client(HTTP_USER_AGENT="Zed's Firefox/128.0", REMOTE_ADDR="203.0.113.77")
    with django_capture_on_commit_callbacks(execute=True):
        response = browser.post(
            f"/invitations/{token}/", {"display_name": f"{FIRST} {LAST}", "password1": PASSWORD, "password2": PASSWORD}
        )
    assert response.status_code == 302
    user = User.objects.get(email=EMAIL)
    with django_capture_on_commit_callbacks(execute=True):
        browser.post(
            "/accounts/profile/",
            {
                "first_name": FIRST,
                "last_name": LAST,
                "bio": f"I am {FIRST}.",
                "theme": "dark",
                "notify_email": "on",
                "email_cadence": "weekly",
            },
        )
        out = io.BytesIO()
        Image.new("RGB", (300, 300), (10, 20, 30)).save(out, format="PNG")
        browser.post("/accounts/profile/avatar/", {"avatar": SimpleUploadedFile("z.png", out.getvalue())})
    Client().post(
        "/accounts/login/", {"email": EMAIL.upper(), "password": "wrong-password"}, REMOTE_ADDR="203.0.113.78"
    )
    other = Client(HTTP_USER_AGENT="Zed's phone Android")
    assert other.post("/accounts/login/", {"email": EMAIL, "password": PASSWORD}).status_code == 302
    user.refresh_from_db()
    return {"user": user, "browser": browser, "phone": other}


def _admin_ctx():
    return db_context(DbContext(user_id="1", role="system"))


# --- export ------------------------------------------------------------------------------------


def test_the_export_holds_data_from_both_stores(zed, world) -> None:
    response = zed["browser"].get("/accounts/data/export/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert response["Content-Disposition"].startswith('attachment; filename="taskforge-my-data-')
    data = json.loads(response.content)
    user = zed["user"]
    assert data["user_id"] == user.pk
    assert data["account"]["email"] == EMAIL and data["account"]["site_capabilities"] == []  # PostgreSQL
    assert data["profile"]["first_name"] == FIRST and data["profile"]["bio"] == f"I am {FIRST}."  # MongoDB
    assert data["profile"]["preferences"]["email_cadence"] == "weekly"
    assert data["team_memberships"] == [
        {
            "team": world.team.name,
            "team_slug": world.team.slug,
            "role": "member",
            "joined_at": data["team_memberships"][0]["joined_at"],
        }
    ]
    assert {s["browser"] for s in data["sessions"]} >= {"Firefox on Linux"} or len(data["sessions"]) == 2
    assert len(data["sessions"]) == 2
    assert {a["reason"] for a in data["sign_in_attempts"]} == {"invitation", "bad_password", "password"}
    assert data["invitations"]["received"][0]["status"] == "accepted"
    # audit entries about them: their user row, their profile content, their membership
    tables = {(e["table_name"], e["operation"]) for e in data["audit_entries"]}
    assert ("accounts_user", "INSERT") in tables
    assert ("accounts_profile", "INSERT") in tables and ("accounts_profile", "UPDATE") in tables
    assert ("accounts_membership", "INSERT") in tables
    assert all("password" not in (e["new_values"] or {}) for e in data["audit_entries"])
    assert all(e["table_name"] != "accounts_team" or e["actor_user_id"] == user.pk for e in data["audit_entries"]), [
        e for e in data["audit_entries"] if e["table_name"] == "accounts_team"
    ]
    assert data["emails"] and all(e["recipient"] == EMAIL for e in data["emails"])


def test_the_export_is_only_ever_ones_own(zed, world) -> None:
    data = json.loads(client_for(world.member).get("/accounts/data/export/").content)
    assert data["account"]["email"] == world.member.email
    assert EMAIL not in json.dumps(data)


def test_the_export_says_try_later_when_the_document_server_is_down(zed, docserver) -> None:
    docserver.stop()
    try:
        response = zed["browser"].get("/accounts/data/export/")
    finally:
        docserver.start()
    assert response.status_code == 503 and b"try the download again" in response.content


def test_exporters_and_erasers_are_a_registry(zed) -> None:
    assert {"account", "profile", "team_memberships", "sessions", "sign_in_attempts", "audit_entries"} <= set(
        exporters()
    )
    assert "accounts" in erasers()
    seen: list[ErasureSubject] = []
    try:
        exporter_register("test_extra", lambda user: {"hello": user.pk})
        eraser_register("test_extra", lambda subject: seen.append(subject) or {"things": 1})
        data = json.loads(zed["browser"].get("/accounts/data/export/").content)
        assert data["test_extra"] == {"hello": zed["user"].pk}
        zed["browser"].post("/accounts/delete/", {"password": PASSWORD, "confirm": "on"})
        assert seen and seen[0].email == EMAIL and LAST in " ".join(seen[0].names)
        assert ErasureRecord.objects.get(user_id=zed["user"].pk).summary["test_extra"] == {"things": 1}
    finally:
        from accounts import export

        export._EXPORTERS.pop("test_extra", None)
        export._ERASERS.pop("test_extra", None)


def test_each_app_registers_its_own_sections_and_erasure_applier() -> None:
    """The registry is filled by the apps' personal_data.py (accounts knows no other app's tables)."""
    from bookings import personal_data as bookings_data
    from sync.handlers import handler_get
    from tasks import personal_data as tasks_data

    assert exporters()["bookings"] is bookings_data.bookings_export
    assert erasers()["bookings"] is bookings_data.bookings_erase
    assert exporters()["tasks"] is tasks_data.tasks_export
    assert erasers()["tasks"] is tasks_data.tasks_erase
    assert handler_get(ERASURE_AGGREGATE) is tasks_data.erasure_apply


# --- the audit functions ------------------------------------------------------------------------


def test_audit_entries_about_a_user_are_readable_only_by_that_user(zed, world) -> None:
    user = zed["user"]
    with db_context(DbContext(user_id=str(user.pk), role="user")), connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM audit_log")
        assert cursor.fetchone()[0] == 0  # the table itself stays admin-only
        cursor.execute("SELECT count(*) FROM accounts_audit_about_user(%s)", [user.pk])
        assert cursor.fetchone()[0] > 3
    with db_context(DbContext(user_id=str(world.member.pk), role="user")):
        with pytest.raises(DatabaseError, match="only the user themself"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM accounts_audit_about_user(%s)", [user.pk])
    with pytest.raises(DatabaseError, match="only the user themself"), transaction.atomic():
        with connection.cursor() as cursor:  # no context at all
            cursor.execute("SELECT count(*) FROM accounts_audit_about_user(%s)", [user.pk])


def test_the_app_role_cannot_update_the_audit_log_even_with_the_privileged_flag(zed) -> None:
    for sql in ("UPDATE audit_log SET old_values = NULL", "DELETE FROM audit_log"):
        with _admin_ctx(), pytest.raises(DatabaseError, match="permission denied"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config('accounts.audit_privileged', 'on', true)")
                cursor.execute(sql)
    with db_context(DbContext(user_id=str(zed["user"].pk), role="user")), connection.cursor() as cursor:
        cursor.execute("SELECT set_config('accounts.audit_privileged', 'on', false)")
        cursor.execute("SELECT count(*) FROM audit_log")
        assert cursor.fetchone()[0] == 0  # the owner-only policies do not apply to the app role
        cursor.execute("SELECT set_config('accounts.audit_privileged', '', false)")


def test_pseudonymising_needs_an_erased_account_and_its_own_context(zed, world) -> None:
    user = zed["user"]
    with db_context(DbContext(user_id=str(user.pk), role="user")):
        with pytest.raises(DatabaseError, match="not erased"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT accounts_audit_pseudonymise(%s, 'X Y', 'x@erased.invalid')", [user.pk])
    with db_context(DbContext(user_id=str(world.member.pk), role="user")):
        with (
            pytest.raises(DatabaseError, match="only the user themself"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute("SELECT accounts_audit_pseudonymise(%s, 'X Y', 'x@erased.invalid')", [user.pk])


# --- erasure ------------------------------------------------------------------------------------------


def _pg_hits(term: str) -> dict[str, int]:
    """Rows of every table (as an admin, so RLS shows everything) whose text contains term."""
    hits = {}
    with _admin_ctx(), connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
        for (table,) in cursor.fetchall():
            cursor.execute(f'SELECT count(*) FROM "{table}" AS t WHERE t::text ILIKE %s', [f"%{term}%"])
            count = cursor.fetchone()[0]
            if count:
                hits[table] = count
    return hits


def _mongo_hits(term: str) -> dict[str, int]:
    hits = {}
    db = documents_db()
    for name in db.list_collection_names():
        count = sum(term.lower() in json.dumps(doc, default=str).lower() for doc in db[name].find({}))
        if count:
            hits[name] = count
    return hits


def test_after_erasure_neither_store_holds_the_email_or_the_name(zed, django_capture_on_commit_callbacks) -> None:
    user = zed["user"]
    for term in TERMS:  # the fixture really put them in both stores
        assert _pg_hits(term), term
    assert _mongo_hits(FIRST) and _mongo_hits(LAST)
    with _admin_ctx():
        from audit.models import AuditLog

        audit_rows_before = AuditLog.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        response = zed["browser"].post("/accounts/delete/", {"password": PASSWORD, "confirm": "on"})
    assert response.status_code == 200 and b"Your account was deleted" in response.content
    for term in TERMS:
        assert _pg_hits(term) == {}, term
        assert _mongo_hits(term) == {}, term
    with _admin_ctx():
        assert AuditLog.objects.count() > audit_rows_before  # nothing deleted; the erasure is audited too
        assert AuditLog.objects.filter(table_name="accounts_erasure_record").exists()
    record = ErasureRecord.objects.get(user_id=user.pk)
    user.refresh_from_db()
    assert user.display_name == record.pseudonym and user.email == f"erased-{user.pk}@erased.invalid"
    assert not user.is_active and not user.has_usable_password() and user.erased_at is not None
    doc = documents_collection(Profile).find_one({"_id": user.pk})
    assert doc["deleted"] is True and "first_name" not in doc and "avatar" not in doc
    assert not Membership.objects.filter(user=user).exists()
    assert not UserSession.objects.filter(user=user).exists()
    assert LoginAttempt.objects.filter(email__iexact=EMAIL).count() == 0


def test_erasure_ends_every_session_and_the_account_cannot_sign_in(zed, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        zed["browser"].post("/accounts/delete/", {"password": PASSWORD, "confirm": "on"})
    assert zed["browser"].get("/accounts/profile/").status_code == 302
    assert zed["phone"].get("/accounts/profile/").status_code == 302
    response = Client().post("/accounts/login/", {"email": EMAIL, "password": PASSWORD})
    assert response.status_code == 400


def test_audit_entries_are_pseudonymised_not_deleted(zed, django_capture_on_commit_callbacks) -> None:
    user = zed["user"]
    with django_capture_on_commit_callbacks(execute=True):
        zed["browser"].post("/accounts/delete/", {"password": PASSWORD, "confirm": "on"})
    pseudonym = ErasureRecord.objects.get(user_id=user.pk).pseudonym
    with _admin_ctx(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT new_values->>'email', new_values->>'display_name', ip_address, user_agent FROM audit_log"
            " WHERE table_name = 'accounts_user' AND record_id = %s AND operation = 'INSERT'",
            [str(user.pk)],
        )
        assert cursor.fetchone() == (f"erased-{user.pk}@erased.invalid", pseudonym, None, "")
        cursor.execute(
            "SELECT count(*) FROM audit_log WHERE user_id = %s AND (ip_address IS NOT NULL OR user_agent <> '')",
            [user.pk],
        )
        assert cursor.fetchone()[0] == 0


def test_erasure_needs_the_password_and_changes_nothing_otherwise(zed) -> None:
    response = zed["browser"].post("/accounts/delete/", {"password": "not-my-password", "confirm": "on"})
    assert response.status_code == 400 and b"password is incorrect" in response.content
    assert zed["browser"].post("/accounts/delete/", {"password": PASSWORD}).status_code == 400  # no confirmation
    user = User.objects.get(pk=zed["user"].pk)
    assert user.email == EMAIL and user.is_active and not ErasureRecord.objects.exists()
    assert zed["browser"].get("/accounts/profile/").status_code == 200


def test_the_last_admin_of_a_team_cannot_erase_the_account(world) -> None:
    client = client_for(world.team_admin)
    response = client.post("/accounts/delete/", {"password": PASSWORD, "confirm": "on"})
    assert response.status_code == 409 and f"only admin of {world.team.name}".encode() in response.content
    assert client.get("/accounts/delete/").content.count(b"Make someone else admin first") == 1
    assert User.objects.get(pk=world.team_admin.pk).is_active


def test_erasure_is_refused_whole_while_the_document_server_is_down(
    zed, docserver, django_capture_on_commit_callbacks
) -> None:
    user = zed["user"]
    docserver.stop()
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = zed["browser"].post("/accounts/delete/", {"password": PASSWORD, "confirm": "on"})
    finally:
        docserver.start()
    assert response.status_code == 503 and b"nothing was deleted" in response.content
    user.refresh_from_db()
    assert user.email == EMAIL and user.is_active and not ErasureRecord.objects.exists()
    from accounts.selectors import profile_breaker_reset

    profile_breaker_reset()
    with django_capture_on_commit_callbacks(execute=True):
        response = zed["browser"].post("/accounts/delete/", {"password": PASSWORD, "confirm": "on"})
    assert response.status_code == 200
    for term in TERMS:
        assert _pg_hits(term) == {} and _mongo_hits(term) == {}, term


def test_own_comments_stay_under_the_pseudonym_and_notifications_lose_the_name(
    zed, world, django_capture_on_commit_callbacks
) -> None:
    user = zed["user"]
    documents_collection(TaskComment).insert_one(
        {
            "_id": C1,
            "task_id": "t1",
            "team_id": world.team.pk,
            "author_id": user.pk,
            "body": f"I am {FIRST}, on it.",
            "mentions": [],
        }
    )
    documents_collection(TaskComment).insert_one(
        {
            "_id": C2,
            "task_id": "t1",
            "team_id": world.team.pk,
            "author_id": world.member.pk,
            "body": f"Thanks {FIRST} {LAST}!",
            "mentions": [user.pk],
        }
    )
    documents_collection(Notification).insert_one({"_id": "n1", "user_id": user.pk, "message": "for Zed"})
    documents_collection(Notification).insert_one(
        {
            "_id": "n2",
            "user_id": world.member.pk,
            "actor_id": user.pk,
            "title": "t",
            "message": f"{FIRST} {LAST} commented",
        }
    )
    export = json.loads(zed["browser"].get("/accounts/data/export/").content)
    assert [c["id"] for c in export["tasks"]["comments"]] == [str(C1)]
    assert [n["id"] for n in export["tasks"]["notifications"]] == ["n1"]
    with django_capture_on_commit_callbacks(execute=True):
        zed["browser"].post("/accounts/delete/", {"password": PASSWORD, "confirm": "on"})
    pseudonym = ErasureRecord.objects.get(user_id=user.pk).pseudonym
    assert documents_collection(TaskComment).find_one({"_id": C1})["author_id"] == user.pk  # kept
    assert documents_collection(TaskComment).find_one({"_id": C1})["body"] == f"I am {pseudonym}, on it."
    # Someone else's comment is theirs: found by id only, never searched for the name.
    assert documents_collection(TaskComment).find_one({"_id": C2})["body"] == f"Thanks {FIRST} {LAST}!"
    assert documents_collection(Notification).find_one({"_id": "n1"}) is None
    assert documents_collection(Notification).find_one({"_id": "n2"})["message"] == f"{pseudonym} commented"
    assert User.objects.get(pk=user.pk).display_name == pseudonym  # how comments show their author
