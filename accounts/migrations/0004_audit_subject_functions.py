"""Privileged SQL functions for personal data: read and pseudonymise the audit entries about a user.

The audit log is readable by admins only (RLS) and the application role may never
UPDATE it. Two SECURITY DEFINER functions, owned by the owner role, give narrow access:

* accounts_audit_about_user(user_id) returns only the rows about that user, and only
  when the connection context is that user (or an admin): the "Download my data" export;
* accounts_audit_pseudonymise(user_id, pseudonym, pseudo_email) rewrites the personal
  values in those rows, and the user's email and name wherever they occur in any audit
  row, for an account that is already marked erased. The terms to remove are taken from
  the audit history of the user's own row, not from the caller, so the function cannot
  be used to rewrite arbitrary text.

audit_log has FORCE ROW LEVEL SECURITY, which binds the owner too, so the functions
set `accounts.audit_privileged = on` while they run and restore it before returning
(an error aborts the transaction, which undoes it too), and two policies granted TO
the owner role only honour that flag. (A function-level SET clause would be neater, but
PostgreSQL 15 refuses it for custom settings to non-superusers.) The application role
has no UPDATE privilege at all, and the owner policies do not apply to it, whatever it
sets.
"""

from django.conf import settings
from django.db import migrations

PERSON_REF_KEYS = (
    "user_id", "created_by_id", "assignee_id", "author_id", "invited_by_id", "accepted_by_id",
    "owner_id", "traveller_id", "customer_id", "booked_by_id", "actor_id", "recipient_id", "uploaded_by_id",
)

FUNCTIONS = r"""
CREATE POLICY accounts_privileged_read ON audit_log AS PERMISSIVE FOR SELECT TO CURRENT_USER
    USING (current_setting('accounts.audit_privileged', true) = 'on');
-- ;;
CREATE POLICY accounts_privileged_update ON audit_log AS PERMISSIVE FOR UPDATE TO CURRENT_USER
    USING (current_setting('accounts.audit_privileged', true) = 'on')
    WITH CHECK (current_setting('accounts.audit_privileged', true) = 'on');
-- ;;

-- Is an audit row about this user? Their own row or profile, rows they acted in,
-- and rows whose values point at them through a person-reference column.
CREATE OR REPLACE FUNCTION accounts_audit_is_about(p_table text, p_record text, p_actor bigint,
                                                   p_old jsonb, p_new jsonb, p_user_id bigint)
RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT p_actor = p_user_id
        OR (p_table IN ('accounts_user', 'accounts_profile') AND p_record = p_user_id::text)
        OR EXISTS (
            SELECT 1 FROM unnest(%(keys)s::text[]) AS k
            WHERE p_old ->> k = p_user_id::text OR p_new ->> k = p_user_id::text
        )
$$;
-- ;;

CREATE OR REPLACE FUNCTION accounts_audit_about_user(p_user_id bigint)
RETURNS SETOF audit_log
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
DECLARE
    previous text := coalesce(current_setting('accounts.audit_privileged', true), '');
BEGIN
    IF p_user_id IS NULL OR NOT (audit_ctx_user() IS NOT DISTINCT FROM p_user_id
                                 OR current_setting('rls.role', true) = 'admin') THEN
        RAISE EXCEPTION 'only the user themself (or an admin) may read the audit entries about a user'
            USING ERRCODE = '42501';
    END IF;
    PERFORM set_config('accounts.audit_privileged', 'on', true);
    RETURN QUERY
        SELECT a.* FROM audit_log a
        WHERE accounts_audit_is_about(a.table_name, a.record_id, a.user_id, a.old_values, a.new_values, p_user_id)
        ORDER BY a.id;
    PERFORM set_config('accounts.audit_privileged', previous, true);
END $$;
-- ;;

-- Replace every case-insensitive occurrence of the terms in the string values of a
-- JSON document (keys and non-string values are left alone).
CREATE OR REPLACE FUNCTION accounts_jsonb_scrub(p_doc jsonb, p_patterns text[], p_replacement text)
RETURNS jsonb LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    result text;
    pattern text;
BEGIN
    IF p_doc IS NULL THEN
        RETURN NULL;
    END IF;
    CASE jsonb_typeof(p_doc)
    WHEN 'object' THEN
        RETURN COALESCE((SELECT jsonb_object_agg(key, accounts_jsonb_scrub(value, p_patterns, p_replacement))
                         FROM jsonb_each(p_doc)), '{}'::jsonb);
    WHEN 'array' THEN
        RETURN COALESCE((SELECT jsonb_agg(accounts_jsonb_scrub(value, p_patterns, p_replacement) ORDER BY ord)
                         FROM jsonb_array_elements(p_doc) WITH ORDINALITY AS e(value, ord)), '[]'::jsonb);
    WHEN 'string' THEN
        result := p_doc #>> '{}';
        FOREACH pattern IN ARRAY p_patterns LOOP
            result := regexp_replace(result, pattern, p_replacement, 'gi');
        END LOOP;
        RETURN to_jsonb(result);
    ELSE
        RETURN p_doc;
    END CASE;
END $$;
-- ;;

CREATE OR REPLACE FUNCTION accounts_audit_pseudonymise(p_user_id bigint, p_pseudonym text, p_pseudo_email text)
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
DECLARE
    previous text := coalesce(current_setting('accounts.audit_privileged', true), '');
    terms text[];
    patterns text[];
    likes text[];
    changed integer := 0;
    n integer;
    tbl text;
BEGIN
    IF p_user_id IS NULL OR NOT (audit_ctx_user() IS NOT DISTINCT FROM p_user_id
                                 OR current_setting('rls.role', true) = 'admin') THEN
        RAISE EXCEPTION 'only the user themself (or an admin) may pseudonymise their audit entries'
            USING ERRCODE = '42501';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM accounts_user WHERE id = p_user_id AND erased_at IS NOT NULL) THEN
        RAISE EXCEPTION 'user % is not erased', p_user_id USING ERRCODE = '55000';
    END IF;
    IF coalesce(p_pseudonym, '') = '' OR p_pseudonym ~ '[\\&]' OR p_pseudo_email ~ '[\\&]' THEN
        RAISE EXCEPTION 'invalid pseudonym' USING ERRCODE = '22023';
    END IF;
    PERFORM set_config('accounts.audit_privileged', 'on', true);

    FOREACH tbl IN ARRAY ARRAY['audit_log', 'audit_log_archive'] LOOP
        CONTINUE WHEN to_regclass(tbl) IS NULL;

        -- The terms: every email and display name the user's row ever had, and every
        -- first/last name (and full name) of their profile, from the audit history itself.
        EXECUTE format($q$
            SELECT coalesce(array_agg(DISTINCT t), '{}') FROM (
                SELECT v ->> k AS t
                FROM %1$I a, LATERAL (VALUES (a.old_values), (a.new_values)) AS x(v),
                     unnest(ARRAY['email', 'display_name', 'first_name', 'last_name']) AS k
                WHERE a.table_name IN ('accounts_user', 'accounts_profile') AND a.record_id = $1::text
                UNION
                SELECT trim(coalesce(v ->> 'first_name', '') || ' ' || coalesce(v ->> 'last_name', ''))
                FROM %1$I a, LATERAL (VALUES (a.old_values), (a.new_values)) AS x(v)
                WHERE a.table_name = 'accounts_profile' AND a.record_id = $1::text
            ) s WHERE length(t) >= 3 AND t <> $2 AND t <> $3
        $q$, tbl) INTO terms USING p_user_id, p_pseudonym, p_pseudo_email;

        -- Longest first, so "Zed Quill" is replaced before "Zed".
        SELECT coalesce(array_agg(regexp_replace(t, '([\^$.|?*+()\[\]{}\\-])', '\\\1', 'g') ORDER BY length(t) DESC), '{}'),
               coalesce(array_agg('%' || replace(replace(replace(t, '\', '\\'), '%', '\%'), '_', '\_') || '%'), '{}')
          INTO patterns, likes
          FROM unnest(terms) AS t;

        -- 1. The user's own row and profile: personal keys get the pseudonym outright.
        EXECUTE format($q$
            UPDATE %1$I a SET
                old_values = CASE WHEN jsonb_typeof(a.old_values) = 'object' THEN
                    a.old_values || jsonb_strip_nulls(jsonb_build_object(
                        'email', CASE WHEN a.old_values ? 'email' THEN to_jsonb($3) END,
                        'display_name', CASE WHEN a.old_values ? 'display_name' THEN to_jsonb($2) END,
                        'first_name', CASE WHEN a.old_values ? 'first_name' THEN to_jsonb($2) END,
                        'last_name', CASE WHEN a.old_values ? 'last_name' THEN to_jsonb(''::text) END,
                        'bio', CASE WHEN a.old_values ? 'bio' THEN to_jsonb(''::text) END,
                        'avatar', CASE WHEN a.old_values ? 'avatar' THEN to_jsonb(''::text) END,
                        'password', CASE WHEN a.old_values ? 'password' THEN to_jsonb(''::text) END))
                    ELSE a.old_values END,
                new_values = CASE WHEN jsonb_typeof(a.new_values) = 'object' THEN
                    a.new_values || jsonb_strip_nulls(jsonb_build_object(
                        'email', CASE WHEN a.new_values ? 'email' THEN to_jsonb($3) END,
                        'display_name', CASE WHEN a.new_values ? 'display_name' THEN to_jsonb($2) END,
                        'first_name', CASE WHEN a.new_values ? 'first_name' THEN to_jsonb($2) END,
                        'last_name', CASE WHEN a.new_values ? 'last_name' THEN to_jsonb(''::text) END,
                        'bio', CASE WHEN a.new_values ? 'bio' THEN to_jsonb(''::text) END,
                        'avatar', CASE WHEN a.new_values ? 'avatar' THEN to_jsonb(''::text) END,
                        'password', CASE WHEN a.new_values ? 'password' THEN to_jsonb(''::text) END))
                    ELSE a.new_values END
            WHERE a.table_name IN ('accounts_user', 'accounts_profile') AND a.record_id = $1::text
        $q$, tbl) USING p_user_id, p_pseudonym, p_pseudo_email;
        GET DIAGNOSTICS n = ROW_COUNT;
        changed := changed + n;

        -- 2. Where they acted (or an anonymous request touched their data: registration,
        --    accepting an invitation), the client address and browser are theirs too.
        EXECUTE format($q$
            UPDATE %1$I a SET ip_address = NULL, user_agent = ''
            WHERE (a.ip_address IS NOT NULL OR a.user_agent <> '')
              AND (a.user_id = $1
                   OR (a.user_id IS NULL AND accounts_audit_is_about(a.table_name, a.record_id, a.user_id,
                                                                     a.old_values, a.new_values, $1)))
        $q$, tbl) USING p_user_id;
        GET DIAGNOSTICS n = ROW_COUNT;
        changed := changed + n;

        -- 3. Their email and names wherever else they occur (invitations, other tables).
        IF array_length(patterns, 1) > 0 THEN
            EXECUTE format($q$
                UPDATE %1$I a SET
                    old_values = accounts_jsonb_scrub(a.old_values, $1, $2),
                    new_values = accounts_jsonb_scrub(a.new_values, $1, $2)
                WHERE a.old_values::text ILIKE ANY ($3) OR a.new_values::text ILIKE ANY ($3)
            $q$, tbl) USING patterns, p_pseudonym, likes;
            GET DIAGNOSTICS n = ROW_COUNT;
            changed := changed + n;
        END IF;
    END LOOP;
    PERFORM set_config('accounts.audit_privileged', previous, true);
    RETURN changed;
END $$;
-- ;;

REVOKE ALL ON FUNCTION accounts_audit_about_user(bigint) FROM PUBLIC;
-- ;;
REVOKE ALL ON FUNCTION accounts_audit_pseudonymise(bigint, text, text) FROM PUBLIC;
""".replace("%(keys)s", "ARRAY[" + ", ".join(f"'{k}'" for k in PERSON_REF_KEYS) + "]")

DROP = """
DROP FUNCTION IF EXISTS accounts_audit_pseudonymise(bigint, text, text);
DROP FUNCTION IF EXISTS accounts_jsonb_scrub(jsonb, text[], text);
DROP FUNCTION IF EXISTS accounts_audit_about_user(bigint);
DROP FUNCTION IF EXISTS accounts_audit_is_about(text, text, bigint, jsonb, jsonb, bigint);
DROP POLICY IF EXISTS accounts_privileged_update ON audit_log;
DROP POLICY IF EXISTS accounts_privileged_read ON audit_log;
"""


def grant_execute(apps, schema_editor):  # noqa: ANN001, ANN201
    """Only the application role may call the privileged functions."""
    role = settings.DB_APP_ROLE
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
        if cursor.fetchone() is None or role == schema_editor.connection.settings_dict["USER"]:
            return
        quoted = schema_editor.connection.ops.quote_name(role)
        cursor.execute(f"GRANT EXECUTE ON FUNCTION accounts_audit_about_user(bigint) TO {quoted}")
        cursor.execute(f"GRANT EXECUTE ON FUNCTION accounts_audit_pseudonymise(bigint, text, text) TO {quoted}")


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_sessions_invitations_profile"),
        ("audit", "0001_initial"),
    ]

    operations = [
        # One statement per item: the function bodies hold nested dollar quotes.
        migrations.RunSQL(
            [part.strip() for part in FUNCTIONS.split("-- ;;") if part.strip()],
            [part.strip() for part in DROP.strip().splitlines() if part.strip()],
        ),
        migrations.RunPython(grant_execute, migrations.RunPython.noop),
    ]
