from django.apps import AppConfig


class MailConfig(AppConfig):
    """Outgoing email: the delivery log, sending exactly once, and digests."""

    name = "mail"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Celery jobs live next to what they call; importing them registers them.
        import mail.delivery
        import mail.digests  # noqa: F401
