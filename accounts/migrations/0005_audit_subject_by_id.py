"""Personal-data functions, v2: everything is found BY ID (security review findings 1-3).

0004's pseudonymisation replaced the person's email and *names* wherever they occurred
in ANY audit row, and the export returned the full values of every row the person had
merely acted on. With self-chosen names that rewrote other people's data (a traveller
called "Confirmed" renamed team "Confirmed Ops" in its sealed audit rows) and exported
third parties' data (a staff member's export held every booking they had edited).

Export, `accounts_audit_about_user(user_id)` (same signature, same caller check):

* rows ABOUT the person keep their values: the person's own user row and profile, and
  rows whose subject column (SUBJECT_KEYS: user_id, author_id, accepted_by_id, ...) is the
  person, in the live log and the archive;
* rows the person only acted on are metadata only: table, record id, operation, time
  (and the person's own IP address and browser for that request: theirs, not a third party's);
* on rows about the person written by someone else, that actor's id, IP address, browser
  and request id are withheld (the role stays).

Pseudonymisation, `accounts_audit_pseudonymise(user_id, pseudonym, pseudo_email)` (same
signature, same checks; still only for an erased account, in its own or an admin context):

1. the person's own user row and profile: personal keys get the pseudonym outright;
2. IP address and browser of the rows the person acted in (and of anonymous requests
   about them: registration, accepting an invitation);
3. rows LINKED to the person by id: a person-reference column (PERSON_REF_KEYS) holds
   their id, or the row belongs to the same record as such a row (an invitation's first
   row, before it was accepted), or to a record the erasers re-pointed to the pseudonymous
   address (their invitations and email log). In those rows only identity fields change
   (EMAIL_KEYS, NAME_KEYS), and only when the value IS one of the person's own emails or
   names (exact, case-insensitive). Other people's account rows are never linked;
4. rows the person is the SUBJECT of (SUBJECT_KEYS, e.g. their own comments): their own
   free text (TEXT_KEYS) loses their names and emails as whole words.

Nothing is matched by free text across other people's rows any more. The emails and
names come from the audit history of the person's own user row and profile, never from
the caller. accounts_jsonb_scrub (the site-wide scrub) and accounts_audit_is_about (which
counted "acted on" as "about") are dropped.
"""

from __future__ import annotations

import importlib

from django.conf import settings
from django.db import migrations

PERSON_REF_KEYS = (
    "user_id",
    "created_by_id",
    "creator_id",
    "assignee_id",
    "author_id",
    "invited_by_id",
    "accepted_by_id",
    "owner_id",
    "traveller_id",
    "customer_id",
    "booked_by_id",
    "actor_id",
    "recipient_id",
    "uploaded_by_id",
)
# Columns that make a row ABOUT the person (not merely touched by them).
SUBJECT_KEYS = ("user_id", "author_id", "accepted_by_id", "traveller_id", "customer_id", "owner_id", "recipient_id")
EMAIL_KEYS = ("email", "recipient", "contact_email", "user_email")
NAME_KEYS = ("display_name", "first_name", "last_name", "full_name", "contact_name", "author_name", "actor_name")
TEXT_KEYS = ("body", "bio", "message", "cancel_reason")


def _array(values: tuple[str, ...]) -> str:
    return "ARRAY[" + ", ".join(f"'{v}'" for v in values) + "]::text[]"


FUNCTIONS = r"""
-- Does any of the keys of either side hold the user's id?
CREATE OR REPLACE FUNCTION accounts_audit_refs(p_old jsonb, p_new jsonb, p_user_id bigint, p_keys text[])
RETURNS boolean LANGUAGE sql IMMUTABLE SET search_path = pg_catalog AS $$
    SELECT EXISTS (
        SELECT 1 FROM unnest(p_keys) AS k
        WHERE (jsonb_typeof(p_old) = 'object' AND p_old ->> k = p_user_id::text)
           OR (jsonb_typeof(p_new) = 'object' AND p_new ->> k = p_user_id::text)
    )
$$;
-- ;;

-- The identity fields of one side of a linked row: an email key whose value is one of the
-- person's emails becomes the pseudonymous address, a name key whose value is one of their
-- names becomes the pseudonym; with p_patterns, the text keys lose the person's names and
-- emails as whole words. Top-level keys only; everything else is left as it is.
CREATE OR REPLACE FUNCTION accounts_identity_scrub(p_doc jsonb, p_emails text[], p_names text[], p_patterns text[],
                                                   p_pseudonym text, p_pseudo_email text)
RETURNS jsonb LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog AS $$
DECLARE
    result jsonb := p_doc;
    k text;
    v text;
    scrubbed text;
    pattern text;
BEGIN
    IF p_doc IS NULL OR jsonb_typeof(p_doc) <> 'object' THEN
        RETURN p_doc;
    END IF;
    FOR k, v IN SELECT e.key, e.value #>> '{}' FROM jsonb_each(p_doc) AS e WHERE jsonb_typeof(e.value) = 'string' LOOP
        IF k = ANY(@EMAIL_KEYS@) AND lower(trim(v)) = ANY(p_emails) THEN
            result := jsonb_set(result, ARRAY[k], to_jsonb(p_pseudo_email));
        ELSIF k = ANY(@NAME_KEYS@) AND lower(trim(v)) = ANY(p_names) THEN
            result := jsonb_set(result, ARRAY[k], to_jsonb(p_pseudonym));
        ELSIF k = ANY(@TEXT_KEYS@) AND p_patterns IS NOT NULL THEN
            scrubbed := v;
            FOREACH pattern IN ARRAY p_patterns LOOP
                scrubbed := regexp_replace(scrubbed, pattern, p_pseudonym, 'gi');
            END LOOP;
            IF scrubbed IS DISTINCT FROM v THEN
                result := jsonb_set(result, ARRAY[k], to_jsonb(scrubbed));
            END IF;
        END IF;
    END LOOP;
    RETURN result;
END $$;
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
        WITH candidates AS (
            SELECT a.id, a.table_name, a.record_id, a.operation, a.old_values, a.new_values, a.user_id,
                   a.actor_role, a.ip_address, a.user_agent, a.request_id, a.created_at
            FROM audit_log a
            UNION ALL
            SELECT a.id, a.table_name, a.record_id, a.operation, a.old_values, a.new_values, a.user_id,
                   a.actor_role, a.ip_address, a.user_agent, a.request_id, a.created_at
            FROM audit_log_archive a
        ), tagged AS (
            SELECT c.*,
                   ((c.table_name IN ('accounts_user', 'accounts_profile') AND c.record_id = p_user_id::text)
                    OR accounts_audit_refs(c.old_values, c.new_values, p_user_id, @SUBJECT_KEYS@)) AS about,
                   c.user_id IS NOT DISTINCT FROM p_user_id AS own_request
            FROM candidates c
        )
        -- (the casts repeat audit_log's column types: RETURN QUERY compares them exactly)
        SELECT t.id, t.table_name::varchar(128), t.record_id::varchar(128), t.operation::varchar(16),
               CASE WHEN t.about THEN t.old_values END,
               CASE WHEN t.about THEN t.new_values END,
               CASE WHEN t.own_request THEN t.user_id END,
               t.actor_role::varchar(32),
               CASE WHEN t.own_request OR (t.user_id IS NULL AND t.about) THEN t.ip_address END,
               (CASE WHEN t.own_request OR (t.user_id IS NULL AND t.about) THEN t.user_agent ELSE '' END)::varchar(512),
               (CASE WHEN t.own_request OR (t.user_id IS NULL AND t.about) THEN t.request_id ELSE '' END)::varchar(64),
               t.created_at,
               NULL::varchar(64), NULL::timestamptz, NULL::varchar(64), NULL::bigint
        FROM tagged t
        WHERE t.about OR t.own_request
        ORDER BY t.created_at, t.id;
    PERFORM set_config('accounts.audit_privileged', previous, true);
END $$;
-- ;;

CREATE OR REPLACE FUNCTION accounts_audit_pseudonymise(p_user_id bigint, p_pseudonym text, p_pseudo_email text)
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
DECLARE
    previous text := coalesce(current_setting('accounts.audit_privileged', true), '');
    emails text[];
    names text[];
    patterns text[];
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
    IF coalesce(p_pseudonym, '') = '' OR coalesce(p_pseudo_email, '') = ''
       OR p_pseudonym ~ '[\\&]' OR p_pseudo_email ~ '[\\&]' THEN
        RAISE EXCEPTION 'invalid pseudonym' USING ERRCODE = '22023';
    END IF;
    PERFORM set_config('accounts.audit_privileged', 'on', true);

    -- The person's own emails and names: from the history of their own user row and
    -- profile (live and archived), never from the caller.
    WITH own AS (
        SELECT a.old_values, a.new_values, a.table_name FROM audit_log a
        WHERE a.table_name IN ('accounts_user', 'accounts_profile') AND a.record_id = p_user_id::text
        UNION ALL
        SELECT a.old_values, a.new_values, a.table_name FROM audit_log_archive a
        WHERE a.table_name IN ('accounts_user', 'accounts_profile') AND a.record_id = p_user_id::text
    ), terms AS (
        SELECT CASE WHEN k = 'email' THEN 'email' ELSE 'name' END AS kind, trim(v ->> k) AS t
        FROM own, LATERAL (VALUES (own.old_values), (own.new_values)) AS x(v),
             unnest(ARRAY['email', 'display_name', 'first_name', 'last_name']) AS k
        WHERE jsonb_typeof(v) = 'object'
        UNION ALL
        SELECT 'name', trim(coalesce(v ->> 'first_name', '') || ' ' || coalesce(v ->> 'last_name', ''))
        FROM own, LATERAL (VALUES (own.old_values), (own.new_values)) AS x(v)
        WHERE own.table_name = 'accounts_profile' AND jsonb_typeof(v) = 'object'
    )
    SELECT coalesce(array_agg(DISTINCT lower(t)) FILTER (WHERE kind = 'email'), '{}'),
           coalesce(array_agg(DISTINCT lower(t)) FILTER (WHERE kind = 'name'), '{}')
      INTO emails, names
      FROM terms
     WHERE length(t) >= 2 AND lower(t) NOT IN (lower(p_pseudonym), lower(p_pseudo_email));
    -- Whole-word patterns for the person's own free text, longest first ("Zed Quill" before "Zed").
    SELECT coalesce(array_agg('(?<![[:alnum:]_])'
                              || regexp_replace(t, '([\^$.|?*+()\[\]{}\\-])', '\\\1', 'g')
                              || '(?![[:alnum:]_])' ORDER BY length(t) DESC), '{}')
      INTO patterns
      FROM unnest(emails || names) AS t
     WHERE length(t) >= 3;

    FOREACH tbl IN ARRAY ARRAY['audit_log', 'audit_log_archive'] LOOP
        CONTINUE WHEN to_regclass(tbl) IS NULL;

        -- 1. The person's own user row and profile: personal keys get the pseudonym outright.
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

        -- 2. Where they acted (or an anonymous request wrote a row about them: registration,
        --    accepting an invitation), the client address and browser are theirs too.
        EXECUTE format($q$
            UPDATE %1$I a SET ip_address = NULL, user_agent = ''
            WHERE (a.ip_address IS NOT NULL OR a.user_agent <> '')
              AND (a.user_id = $1
                   OR (a.user_id IS NULL
                       AND ((a.table_name IN ('accounts_user', 'accounts_profile') AND a.record_id = $1::text)
                            OR accounts_audit_refs(a.old_values, a.new_values, $1, $2))))
        $q$, tbl) USING p_user_id, @PERSON_KEYS@;
        GET DIAGNOSTICS n = ROW_COUNT;
        changed := changed + n;

        -- 3 and 4. Rows linked to them by id: identity fields that hold their own email or
        --    name; in rows they are the subject of, their names in their own free text.
        IF cardinality(emails) + cardinality(names) > 0 THEN
            EXECUTE format($q$
                WITH everything AS (
                    SELECT l.table_name, l.record_id, l.old_values, l.new_values FROM audit_log l
                    UNION ALL
                    SELECT l.table_name, l.record_id, l.old_values, l.new_values FROM audit_log_archive l
                ), linked AS (
                    SELECT DISTINCT e.table_name, e.record_id FROM everything e
                    WHERE accounts_audit_refs(e.old_values, e.new_values, $1, $2)
                       OR EXISTS (SELECT 1 FROM unnest($3) AS k
                                  WHERE e.new_values ->> k = $5 OR e.old_values ->> k = $5)
                ), scrubbed AS (
                    SELECT a.id,
                           accounts_identity_scrub(a.old_values, $6, $7,
                               CASE WHEN accounts_audit_refs(a.old_values, a.new_values, $1, $8) THEN $9 END,
                               $4, $5) AS old_v,
                           accounts_identity_scrub(a.new_values, $6, $7,
                               CASE WHEN accounts_audit_refs(a.old_values, a.new_values, $1, $8) THEN $9 END,
                               $4, $5) AS new_v
                    FROM %1$I a JOIN linked l ON l.table_name = a.table_name AND l.record_id = a.record_id
                    WHERE NOT (a.table_name IN ('accounts_user', 'accounts_profile') AND a.record_id <> $1::text)
                )
                UPDATE %1$I a SET old_values = s.old_v, new_values = s.new_v
                FROM scrubbed s
                WHERE a.id = s.id
                  AND (s.old_v IS DISTINCT FROM a.old_values OR s.new_v IS DISTINCT FROM a.new_values)
            $q$, tbl) USING p_user_id, @PERSON_KEYS@, @EMAIL_KEYS@, p_pseudonym, p_pseudo_email,
                            emails, names, @SUBJECT_KEYS@, patterns;
            GET DIAGNOSTICS n = ROW_COUNT;
            changed := changed + n;
        END IF;
    END LOOP;
    PERFORM set_config('accounts.audit_privileged', previous, true);
    RETURN changed;
END $$;
-- ;;

DROP FUNCTION IF EXISTS accounts_jsonb_scrub(jsonb, text[], text);
-- ;;
DROP FUNCTION IF EXISTS accounts_audit_is_about(text, text, bigint, jsonb, jsonb, bigint);
-- ;;
REVOKE ALL ON FUNCTION accounts_audit_about_user(bigint) FROM PUBLIC;
-- ;;
REVOKE ALL ON FUNCTION accounts_audit_pseudonymise(bigint, text, text) FROM PUBLIC;
"""
for _token, _keys in (
    ("@PERSON_KEYS@", PERSON_REF_KEYS),
    ("@SUBJECT_KEYS@", SUBJECT_KEYS),
    ("@EMAIL_KEYS@", EMAIL_KEYS),
    ("@NAME_KEYS@", NAME_KEYS),
    ("@TEXT_KEYS@", TEXT_KEYS),
):
    FUNCTIONS = FUNCTIONS.replace(_token, _array(_keys))


def _previous_functions() -> list[str]:
    """0004's function definitions (the reverse of this migration puts them back)."""
    previous = importlib.import_module("accounts.migrations.0004_audit_subject_functions")
    parts = [part.strip() for part in previous.FUNCTIONS.split("-- ;;") if part.strip()]
    return [part for part in parts if part.startswith(("CREATE OR REPLACE FUNCTION", "--", "REVOKE"))]


REVERSE = [
    *_previous_functions(),
    "DROP FUNCTION IF EXISTS accounts_identity_scrub(jsonb, text[], text[], text[], text, text)",
    "DROP FUNCTION IF EXISTS accounts_audit_refs(jsonb, jsonb, bigint, text[])",
]


def grant_execute(apps, schema_editor):  # noqa: ANN001, ANN201
    """Only the application role may call the two privileged functions (PUBLIC may not)."""
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
        ("accounts", "0004_audit_subject_functions"),
        ("audit", "0003_chain_functions"),
    ]

    operations = [
        # One statement per item: the function bodies hold nested dollar quotes.
        migrations.RunSQL(
            [part.strip() for part in FUNCTIONS.split("-- ;;") if part.strip()],
            REVERSE,
        ),
        migrations.RunPython(grant_execute, migrations.RunPython.noop),
    ]
