from django.apps import AppConfig
from django.conf import settings
from django.core import checks

from taskforge.store_tls import log_store_findings, tls_check


class TaskforgeConfig(AppConfig):
    name = "taskforge"
    verbose_name = "TaskForge platform"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Stores reached off-host without verified TLS: a check for `manage.py check`, and a
        # logged warning now, because gunicorn and Celery run no system checks.
        checks.register(tls_check, checks.Tags.security)
        if settings.PRODUCTION:
            log_store_findings()
