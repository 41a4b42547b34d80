from django.apps import AppConfig


class BookingsConfig(AppConfig):
    name = "bookings"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the Celery jobs: emails (bookings.jobs) and the waiting list's offer rounds.
        import bookings.jobs
        import bookings.services.waitlist  # noqa: F401
