"""Database rules that the ORM cannot express.

* The assignee must be a member of the task's team: a composite foreign key
  (team_id, assignee_id) -> accounts_membership (team_id, user_id). Removing someone
  from a team unassigns their tasks there (ON DELETE SET NULL of assignee_id only).
* A task's history for its team members: the audit log is admin-only under RLS, so
  `tasks_task_history(task_id)` (SECURITY DEFINER) returns the audit rows of ONE task,
  and only after checking that the calling context user belongs to the task's team.
  It switches rls.role to 'admin' (transaction-locally) for its one audit query, which
  is what the audit_log SELECT policy requires, and restores the caller's role right
  after; it never returns other records. Only the application role may EXECUTE it
  (migration 0004).
"""

from django.db import migrations

MEMBER_FK = """
ALTER TABLE tasks_task
    ADD CONSTRAINT tasks_task_assignee_member_fk
    FOREIGN KEY (team_id, assignee_id) REFERENCES accounts_membership (team_id, user_id)
    ON DELETE SET NULL (assignee_id);
"""
DROP_MEMBER_FK = "ALTER TABLE tasks_task DROP CONSTRAINT IF EXISTS tasks_task_assignee_member_fk;"

HISTORY_FUNCTION = """
CREATE OR REPLACE FUNCTION tasks_task_history(p_task_id uuid, p_limit integer DEFAULT 200)
RETURNS TABLE (id bigint, table_name varchar, operation varchar, old_values jsonb, new_values jsonb,
               user_id bigint, actor_role varchar, created_at timestamptz)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
DECLARE
    v_user bigint := audit_ctx_user();
    v_role text := COALESCE(current_setting('rls.role', true), '');
BEGIN
    IF v_user IS NULL OR NOT EXISTS (
        SELECT 1 FROM tasks_task t JOIN accounts_membership m ON m.team_id = t.team_id
        WHERE t.id = p_task_id AND m.user_id = v_user
    ) THEN
        RETURN;  -- not a member of the task's team (or no such task): nothing
    END IF;
    -- audit_log is readable by the admin role only (RLS): take it for this one query,
    -- transaction-locally, and put the caller's role back straight after.
    PERFORM set_config('rls.role', 'admin', true);
    RETURN QUERY
        SELECT a.id, a.table_name, a.operation, a.old_values, a.new_values, a.user_id, a.actor_role, a.created_at
        FROM audit_log a
        WHERE a.table_name IN ('tasks_task', 'task_detail', 'task_comment')
          AND a.record_id = p_task_id::text
        ORDER BY a.created_at DESC, a.id DESC
        LIMIT LEAST(GREATEST(p_limit, 1), 500);
    PERFORM set_config('rls.role', v_role, true);
EXCEPTION WHEN others THEN
    PERFORM set_config('rls.role', v_role, true);
    RAISE;
END $$;
"""

DROP_HISTORY = "DROP FUNCTION IF EXISTS tasks_task_history(uuid, integer);"


class Migration(migrations.Migration):
    dependencies = [
        ("tasks", "0001_initial"),
        ("accounts", "0002_teams"),
        ("audit", "0001_initial"),
    ]

    operations = [
        migrations.RunSQL(MEMBER_FK, DROP_MEMBER_FK),
        migrations.RunSQL(HISTORY_FUNCTION, DROP_HISTORY),
    ]
