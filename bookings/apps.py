from django.apps import AppConfig


class BookingsConfig(AppConfig):
    name = "bookings"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        import bookings.jobs  # noqa: F401 - registers the Celery jobs
        import bookings.services.waitlist  # noqa: F401 - the waiting list's jobs
