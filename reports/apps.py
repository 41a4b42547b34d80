from django.apps import AppConfig


class ReportsConfig(AppConfig):
    """The star schema for analytics, its ETL, the report pages and the System page."""

    name = "reports"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        import reports.jobs  # noqa: F401 - registers the Celery jobs
