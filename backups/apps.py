from django.apps import AppConfig


class BackupsConfig(AppConfig):
    """Encrypted backups of both stores, verified by restoring them; restore and retention."""

    name = "backups"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.conf import settings
        from django.core.exceptions import ImproperlyConfigured

        from backups.crypto import BackupKeyError, parse_recipients

        # A malformed key stops every process at start-up, naming the variable.
        try:
            parse_recipients(settings.BACKUP_AGE_RECIPIENTS)
        except BackupKeyError as exc:
            raise ImproperlyConfigured(str(exc)) from None
        # Celery jobs live next to what they call; importing them registers them.
        import backups.retention
        import backups.verify  # noqa: F401
