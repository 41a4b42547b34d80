"""Who may call the SECURITY DEFINER functions (security review finding 3).

A SECURITY DEFINER function runs with its owner's rights, so EXECUTE on it is a grant of
those rights: PUBLIC (every role of the cluster) must not have it. The application role
gets EXECUTE on exactly the functions it calls; audit_archive() is the owner's alone
(`manage.py audit_retention` connects as the owner for it).
"""

from __future__ import annotations

import uuid
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from audit.rlscheck import definer_function_problems, definer_functions
from audit.tests.helpers import owner_connection, owner_scalar
from taskforge.dbcontext import DbContext, db_context

OURS = {
    "audit_record_content(text,text,text,jsonb,jsonb)",
    "audit_seal(integer,boolean)",
    "audit_archive(integer,integer)",
    "audit_row()",
    "accounts_audit_about_user(bigint)",
    "accounts_audit_pseudonymise(bigint,text,text)",
}
APP_EXECUTES = {
    "audit_record_content(text,text,text,jsonb,jsonb)",
    "audit_seal(integer,boolean)",
    "accounts_audit_about_user(bigint)",
    "accounts_audit_pseudonymise(bigint,text,text)",
}


def _normalise(signature: str) -> str:
    return signature.replace(" ", "").replace("charactervarying", "varchar")


def test_no_audit_or_accounts_definer_function_is_executable_by_public(db) -> None:
    functions = {_normalise(f.signature): f for f in definer_functions()}
    assert OURS <= set(functions), sorted(functions)
    for name in OURS:
        assert not functions[name].public, f"{name} is executable by PUBLIC"
    public = owner_scalar(
        "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE n.nspname = 'public' AND p.prosecdef AND has_function_privilege('public', p.oid, 'EXECUTE') "
        "AND (p.proname LIKE 'audit%%' OR p.proname LIKE 'accounts%%')"
    )
    assert public == 0


def test_the_app_role_executes_exactly_what_it_needs(db) -> None:
    functions = {_normalise(f.signature): f for f in definer_functions()}
    for name in OURS:
        assert functions[name].app_role == (name in APP_EXECUTES), name
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        assert cursor.fetchone()[0] == settings.DB_APP_ROLE
    with pytest.raises(DatabaseError, match="permission denied for function audit_archive"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT audit_archive(1, 10)")
    with db_context(DbContext(user_id="3", role="user")), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT audit_seal(10, false)")  # the beat job, as the app role
        assert cursor.fetchone()[0] >= -1


def test_audit_retention_still_runs_as_the_owner(committed_db) -> None:
    out = StringIO()
    call_command("audit_retention", "--days", "30", stdout=out)
    assert "archived 0 audit row(s) older than 30 day(s)" in out.getvalue()


@pytest.mark.parametrize(
    ("table", "op", "message"),
    [
        ("accounts_user", "INSERT", "names a table"),
        ("bookings_booking", "UPDATE", "names a table"),
        ("audit_log", "DELETE", "names a table"),
        ("pg_class", "INSERT", "names a table"),
        ("Task_Detail", "INSERT", "not a content kind"),
        ("task_detail", "TRUNCATE", "operation"),
        ("task_detail", "insert", "operation"),
        ("task_detail", None, "operation"),
        (None, "INSERT", "not a content kind"),
    ],
)
def test_audit_record_content_refuses_forged_table_rows_and_odd_operations(db, table, op, message) -> None:
    with db_context(DbContext(user_id="5", role="user")):
        with pytest.raises(DatabaseError, match=message), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT audit_record_content(%s, 'x1', %s, NULL, '{\"a\": 1}'::jsonb)", [table, op])
        with transaction.atomic(), connection.cursor() as cursor:  # a content kind is still fine
            cursor.execute("SELECT audit_record_content('task_detail', 'x1', 'INSERT', NULL, '{\"a\": 1}'::jsonb)")


def test_check_rls_fails_on_a_definer_function_anyone_may_call(db) -> None:
    name = f"rls_scratch_fn_{uuid.uuid4().hex[:10]}"
    with owner_connection() as conn:
        conn.execute(f"CREATE FUNCTION {name}() RETURNS integer LANGUAGE sql SECURITY DEFINER AS 'SELECT 1'")
    try:
        problems = definer_function_problems()
        assert f"function {name}() is SECURITY DEFINER and executable by PUBLIC" in " ".join(problems)
        with pytest.raises(CommandError) as excinfo:
            call_command("check_rls", "--no-proofs", stdout=StringIO(), stderr=StringIO())
        assert f"{name}()" in str(excinfo.value)
        with owner_connection() as conn:
            conn.execute(f"REVOKE ALL ON FUNCTION {name}() FROM PUBLIC")
        assert not [p for p in definer_function_problems() if name in p]
    finally:
        with owner_connection() as conn:
            conn.execute(f"DROP FUNCTION IF EXISTS {name}()")


def test_check_rls_lists_the_definer_functions_and_who_may_run_them(db) -> None:
    out = StringIO()
    try:
        call_command("check_rls", "--no-proofs", stdout=out, stderr=StringIO())
    except CommandError as exc:
        # Only other apps' functions may still be open to PUBLIC (reported to their owners).
        assert "audit_" not in str(exc) and "accounts_" not in str(exc), str(exc)
    text = out.getvalue()
    assert "security definer functions" in text
    assert "audit_archive(integer,integer)" in text and "owner only" in text
    assert not [p for p in definer_function_problems() if "audit_" in p or "accounts_" in p]
