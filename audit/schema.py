"""Database-side wiring that follows the models: privileges and audit triggers.

Runs after every `migrate` (as the owner role), so a new table is granted to the
application role and audited without anyone remembering to do it:

* the application role gets SELECT on every table, and INSERT/UPDATE/DELETE only
  on the tables of the site's models, never on the audit tables (log, archive, chain
  head: SELECT only, and RLS shows them to admins only), django_migrations, content
  types or permissions; it never gets TRUNCATE, and may not create temporary tables;
* the backup role gets SELECT on everything;
* every table of the business apps gets the audit trigger, unless its model sets
  `AUDIT = False` (high-churn technical tables such as the outbox).
"""

from __future__ import annotations

import functools
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import connections, transaction
from django.utils.text import capfirst

AUDITED_APP_LABELS = ("accounts", "tasks", "bookings", "sync", "mail", "backups")
AUDIT_TABLES = ("audit_log", "audit_log_archive", "audit_chain_head")
# Written only by `migrate` (as the owner), read by the site.
READ_ONLY_TABLES = frozenset({"django_migrations", "django_content_type", "auth_permission", *AUDIT_TABLES})


def writable_tables() -> list[str]:
    """Tables of the site's models that the application role may write."""
    tables = {
        model._meta.db_table
        for model in apps.get_models(include_auto_created=True)
        if model._meta.managed and not model._meta.proxy
    }
    return sorted(tables - READ_ONLY_TABLES)


def audited_tables() -> list[str]:
    tables = []
    for model in apps.get_models(include_auto_created=True):
        meta = model._meta
        if meta.app_label not in AUDITED_APP_LABELS or not meta.managed or meta.proxy:
            continue
        if getattr(model, "AUDIT", True) is False:
            continue
        tables.append(meta.db_table)
    return sorted(set(tables))


@functools.cache
def _table_verbose_names() -> dict[str, str]:
    return {
        model._meta.db_table: capfirst(str(model._meta.verbose_name))
        for model in apps.get_models(include_auto_created=True)
    }


def table_label(table: str) -> str:
    """What people call the rows of a table: the model's verbose name ("tasks_task" ->
    "Task", "bookings_booking" -> "Booking"); a content kind audited without a model
    ("task_detail") reads as words ("Task detail")."""
    return _table_verbose_names().get(table) or capfirst(table.replace("_", " "))


def schema_sync(using: str = "default") -> None:
    connection = connections[using]
    app_role = connection.ops.quote_name(settings.DB_APP_ROLE)
    backup_role = connection.ops.quote_name(settings.DB_BACKUP_ROLE)
    existing = set(connection.introspection.table_names())
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [settings.DB_APP_ROLE])
        has_app_role = cursor.fetchone() is not None and settings.DB_APP_ROLE != connection.settings_dict["USER"]
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [settings.DB_BACKUP_ROLE])
        has_backup_role = cursor.fetchone() is not None
        if has_app_role:
            with transaction.atomic(using=using):
                cursor.execute(f"GRANT USAGE ON SCHEMA public TO {app_role}")
                cursor.execute(
                    f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA public FROM {app_role}"
                )
                cursor.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {app_role}")
                for table in writable_tables():
                    if table in existing:
                        quoted = connection.ops.quote_name(table)
                        cursor.execute(f"GRANT INSERT, UPDATE, DELETE ON {quoted} TO {app_role}")
                cursor.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {app_role}")
                cursor.execute(
                    "DO $$ BEGIN EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());"
                    " END $$"
                )
        if has_backup_role:
            cursor.execute(f"GRANT USAGE ON SCHEMA public TO {backup_role}")
            cursor.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {backup_role}")
            cursor.execute(f"GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO {backup_role}")
        for table in audited_tables():
            if table not in existing:
                continue
            quoted = connection.ops.quote_name(table)
            cursor.execute(
                f"CREATE OR REPLACE TRIGGER audit_row AFTER INSERT OR UPDATE OR DELETE ON {quoted} "
                "FOR EACH ROW EXECUTE FUNCTION audit_row()"
            )


def schema_sync_after_migrate(sender: Any, using: str = "default", **kwargs: Any) -> None:
    if connections[using].vendor == "postgresql" and using == "default":
        schema_sync(using)
