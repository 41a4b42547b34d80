from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AuditConfig(AppConfig):
    name = "audit"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        import audit.jobs  # noqa: F401 - registers the Celery jobs
        from audit.schema import schema_sync_after_migrate

        post_migrate.connect(schema_sync_after_migrate, sender=self, dispatch_uid="audit_schema_sync")
