"""tasks_task_history() is SECURITY DEFINER: only the application role may call it.

(A definer function runs with its owner's rights, so EXECUTE must not stay with PUBLIC;
the function still checks the caller's team membership itself.)
"""

from django.conf import settings
from django.db import migrations


def grant_execute(apps, schema_editor):  # noqa: ANN001, ANN201
    role = settings.DB_APP_ROLE
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
        if cursor.fetchone() is None or role == schema_editor.connection.settings_dict["USER"]:
            return
        quoted = schema_editor.connection.ops.quote_name(role)
        cursor.execute(f"GRANT EXECUTE ON FUNCTION tasks_task_history(uuid, integer) TO {quoted}")


class Migration(migrations.Migration):
    dependencies = [("tasks", "0003_detail_version")]

    operations = [
        migrations.RunSQL(
            "REVOKE ALL ON FUNCTION tasks_task_history(uuid, integer) FROM PUBLIC;",
            "GRANT EXECUTE ON FUNCTION tasks_task_history(uuid, integer) TO PUBLIC;",
        ),
        migrations.RunPython(grant_execute, migrations.RunPython.noop),
    ]
