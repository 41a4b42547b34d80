from django.apps import AppConfig


class TasksConfig(AppConfig):
    name = "tasks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Celery jobs live next to what they call; importing them registers them.
        import tasks.services.notifications  # noqa: F401
