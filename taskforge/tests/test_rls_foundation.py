"""The application role cannot bypass row-level security (audit_log has a policy and proves it)."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from accounts.models import User
from taskforge.dbcontext import DbContext, db_context

pytestmark = pytest.mark.django_db


def _scalar(sql: str, params: list | None = None):
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.fetchone()[0]


def test_tests_run_as_the_application_role(settings) -> None:
    assert _scalar("SELECT current_user") == settings.DB_APP_ROLE


def test_application_role_has_no_privileges_to_bypass_rls(settings) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
        assert cursor.fetchone() == (False, False)
        cursor.execute(
            "SELECT count(*) FROM pg_class WHERE relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)"
        )
        assert cursor.fetchone()[0] == 0


def test_protected_rows_hidden_without_context_and_visible_to_admin(make_user) -> None:
    user = make_user("traveller")  # the insert is audited by the trigger
    assert _scalar("SELECT count(*) FROM audit_log") == 0  # no context: no rows
    with db_context(DbContext(user_id=str(user.pk), role="user")):
        assert _scalar("SELECT count(*) FROM audit_log") == 0  # not an admin
    with db_context(DbContext(user_id="1", role="system")):
        assert _scalar("SELECT count(*) FROM audit_log WHERE record_id = %s", [str(user.pk)]) >= 1


def test_row_security_cannot_be_switched_off_by_the_app_role(make_user) -> None:
    make_user("traveller")
    with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL row_security = off")
            cursor.execute("SELECT count(*) FROM audit_log")


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET operation = 'X'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
        "INSERT INTO audit_log (table_name, record_id, operation) VALUES ('t', '1', 'INSERT')",
    ],
)
def test_application_role_cannot_write_the_audit_log(statement: str) -> None:
    with pytest.raises(DatabaseError, match="permission denied"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(statement)


def test_audit_rows_name_the_actor_from_the_connection_context(make_user) -> None:
    admin = make_user("admin")
    ctx = DbContext(
        user_id=str(admin.pk), role="user", ip="203.0.113.9", user_agent="pytest", request_id="req-12345678"
    )
    with db_context(ctx):
        target = User.objects.create_user("audited-target@example.com", None)
        row = _scalar(
            "SELECT json_build_object('u', user_id, 'r', actor_role, 'ip', host(ip_address),"
            " 'ua', user_agent, 'rid', request_id)"
            " FROM audit_log WHERE table_name = 'accounts_user' AND record_id = %s AND operation = 'INSERT'",
            [str(target.pk)],
        )
    assert row == {"u": admin.pk, "r": "user", "ip": "203.0.113.9", "ua": "pytest", "rid": "req-12345678"}


@pytest.mark.parametrize(
    "statement",
    [
        "DELETE FROM django_migrations",
        "UPDATE django_content_type SET model = model",
        "TRUNCATE accounts_team",
        "CREATE TEMP TABLE scratch (id int)",
    ],
)
def test_application_role_cannot_touch_schema_bookkeeping_truncate_or_create_temp_tables(statement: str) -> None:
    with pytest.raises(DatabaseError, match="permission denied"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(statement)


def test_application_role_can_write_model_tables(make_user) -> None:
    user = make_user("staff")
    with connection.cursor() as cursor:
        cursor.execute("UPDATE accounts_user SET display_name = 'x' WHERE id = %s", [user.pk])
        assert cursor.rowcount == 1
