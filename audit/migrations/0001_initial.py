from django.db import migrations, models
import django.db.models.functions


AUDIT_FUNCTIONS = r"""
-- Reads the connection context set by taskforge/dbcontext.py.
CREATE OR REPLACE FUNCTION audit_ctx_inet() RETURNS inet
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN NULLIF(current_setting('rls.ip', true), '')::inet;
EXCEPTION WHEN others THEN
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION audit_ctx_user() RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN NULLIF(current_setting('rls.user_id', true), '')::bigint;
EXCEPTION WHEN others THEN
    RETURN NULL;
END $$;

-- Row trigger: one audit row per changed row, whatever wrote it (ORM, update(),
-- bulk operations, raw SQL). SECURITY DEFINER: runs as the owner, so the
-- application role needs no INSERT privilege on audit_log.
CREATE OR REPLACE FUNCTION audit_row() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    old_j jsonb;
    new_j jsonb;
    rec_id text;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        old_j := to_jsonb(OLD);
        new_j := to_jsonb(NEW);
        IF old_j = new_j THEN
            RETURN NULL;  -- nothing changed, nothing to audit
        END IF;
        rec_id := COALESCE(new_j->>'id', new_j->>'session_key', '');
    ELSIF TG_OP = 'INSERT' THEN
        new_j := to_jsonb(NEW);
        rec_id := COALESCE(new_j->>'id', new_j->>'session_key', '');
    ELSE
        old_j := to_jsonb(OLD);
        rec_id := COALESCE(old_j->>'id', old_j->>'session_key', '');
    END IF;
    INSERT INTO audit_log (table_name, record_id, operation, old_values, new_values,
                           user_id, actor_role, ip_address, user_agent, request_id, created_at)
    VALUES (TG_TABLE_NAME, rec_id, TG_OP, old_j, new_j,
            audit_ctx_user(), COALESCE(current_setting('rls.role', true), ''),
            audit_ctx_inet(), left(COALESCE(current_setting('rls.user_agent', true), ''), 512),
            left(COALESCE(current_setting('rls.request_id', true), ''), 64), clock_timestamp());
    RETURN NULL;
END $$;

-- Content changes in MongoDB are audited by the service that makes them, in the
-- same PostgreSQL transaction as its outbox event, through this function.
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

DROP_FUNCTIONS = """
DROP FUNCTION IF EXISTS audit_record_content(text, text, text, jsonb, jsonb);
DROP FUNCTION IF EXISTS audit_row();
DROP FUNCTION IF EXISTS audit_ctx_user();
DROP FUNCTION IF EXISTS audit_ctx_inet();
"""


class Migration(migrations.Migration):
    initial = True
    dependencies = []

    operations = [
        migrations.CreateModel(
            name="AuditLog",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("table_name", models.CharField(max_length=128)),
                ("record_id", models.CharField(max_length=128)),
                ("operation", models.CharField(max_length=16)),
                ("old_values", models.JSONField(blank=True, null=True)),
                ("new_values", models.JSONField(blank=True, null=True)),
                ("user_id", models.BigIntegerField(blank=True, null=True)),
                ("actor_role", models.CharField(blank=True, default="", max_length=32)),
                ("ip_address", models.GenericIPAddressField(blank=True, null=True)),
                ("user_agent", models.CharField(blank=True, default="", max_length=512)),
                ("request_id", models.CharField(blank=True, default="", max_length=64)),
                ("created_at", models.DateTimeField(db_default=django.db.models.functions.Now())),
            ],
            options={
                "db_table": "audit_log",
                "indexes": [
                    models.Index(fields=["table_name", "record_id"], name="audit_table_record_idx"),
                    models.Index(fields=["user_id", "created_at"], name="audit_user_time_idx"),
                    models.Index(fields=["created_at"], name="audit_time_idx"),
                ],
            },
        ),
        migrations.RunSQL(AUDIT_FUNCTIONS, DROP_FUNCTIONS),
    ]
