"""Who may call the audit log's SECURITY DEFINER functions (security review finding 3).

PostgreSQL lets PUBLIC execute every new function, and a SECURITY DEFINER function runs
with its owner's rights: any role of the cluster could forge content audit rows, seal, or
archive the log. Now:

* PUBLIC may execute none of them (audit_record_content, audit_seal, audit_archive and the
  trigger function audit_row, which triggers run whatever the grants);
* the application role may execute audit_record_content (services audit content changes)
  and audit_seal (the `audit.seal` beat job, `verify_audit`); granted here from
  settings.DB_APP_ROLE, and again after every migrate by audit/schema.py;
* audit_archive is the owner's alone: `manage.py audit_retention` and the `audit.retention`
  job connect as the owner (settings.DATABASE_OWNER) for it.

audit_record_content also refuses what it was never for: a p_table that names a real
relation (relational changes are audited by the trigger, so a caller could otherwise forge
rows that look like trigger rows of, say, accounts_user), a p_table that is not a
lower-case identifier, and an operation other than INSERT, UPDATE or DELETE.
"""

from __future__ import annotations

from django.conf import settings
from django.db import migrations

RECORD_CONTENT = r"""
CREATE OR REPLACE FUNCTION audit_record_content(p_table text, p_record text, p_op text,
                                                p_old jsonb, p_new jsonb) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF p_table IS NULL OR p_table !~ '^[a-z][a-z0-9_]{0,127}$' THEN
        RAISE EXCEPTION 'audit_record_content: % is not a content kind (a lower-case identifier)', p_table
            USING ERRCODE = '22023';
    END IF;
    IF to_regclass(p_table) IS NOT NULL THEN
        RAISE EXCEPTION 'audit_record_content: % names a table; changes to tables are audited by their trigger',
            p_table USING ERRCODE = '42501';
    END IF;
    IF p_op IS NULL OR p_op NOT IN ('INSERT', 'UPDATE', 'DELETE') THEN
        RAISE EXCEPTION 'audit_record_content: operation must be INSERT, UPDATE or DELETE, not %', p_op
            USING ERRCODE = '22023';
    END IF;
    INSERT INTO audit_log (table_name, record_id, operation, old_values, new_values,
                           user_id, actor_role, ip_address, user_agent, request_id, created_at)
    VALUES (p_table, COALESCE(p_record, ''), p_op, p_old, p_new,
            audit_ctx_user(), COALESCE(current_setting('rls.role', true), ''),
            audit_ctx_inet(), left(COALESCE(current_setting('rls.user_agent', true), ''), 512),
            left(COALESCE(current_setting('rls.request_id', true), ''), 64), clock_timestamp());
END $$;
"""

PREVIOUS_RECORD_CONTENT = r"""
CREATE OR REPLACE FUNCTION audit_record_content(p_table text, p_record text, p_op text,
                                                p_old jsonb, p_new jsonb) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    INSERT INTO audit_log (table_name, record_id, operation, old_values, new_values,
                           user_id, actor_role, ip_address, user_agent, request_id, created_at)
    VALUES (p_table, p_record, p_op, p_old, p_new,
            audit_ctx_user(), COALESCE(current_setting('rls.role', true), ''),
            audit_ctx_inet(), left(COALESCE(current_setting('rls.user_agent', true), ''), 512),
            left(COALESCE(current_setting('rls.request_id', true), ''), 64), clock_timestamp());
END $$;
"""

# Every SECURITY DEFINER function of the audit app, and whether the application role runs it.
DEFINER_FUNCTIONS = {
    "audit_record_content(text, text, text, jsonb, jsonb)": True,
    "audit_seal(integer, boolean)": True,
    "audit_archive(integer, integer)": False,
    "audit_row()": False,
}
APP_ROLE_EXECUTES = tuple(name for name, app in DEFINER_FUNCTIONS.items() if app)

REVOKE = [f"REVOKE ALL ON FUNCTION {name} FROM PUBLIC" for name in DEFINER_FUNCTIONS]
UNDO_REVOKE = [f"GRANT EXECUTE ON FUNCTION {name} TO PUBLIC" for name in DEFINER_FUNCTIONS]


def grant_app_role(apps, schema_editor):  # noqa: ANN001, ANN201
    role = settings.DB_APP_ROLE
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
        if cursor.fetchone() is None or role == connection.settings_dict["USER"]:
            return
        quoted = connection.ops.quote_name(role)
        for name in APP_ROLE_EXECUTES:
            cursor.execute(f"GRANT EXECUTE ON FUNCTION {name} TO {quoted}")
        cursor.execute(f"REVOKE ALL ON FUNCTION audit_archive(integer, integer) FROM {quoted}")


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_chain_functions")]

    operations = [
        migrations.RunSQL(RECORD_CONTENT, PREVIOUS_RECORD_CONTENT),
        migrations.RunSQL(REVOKE, UNDO_REVOKE),
        migrations.RunPython(grant_app_role, migrations.RunPython.noop),
    ]
