from django.apps import AppConfig


class TaskforgeConfig(AppConfig):
    name = "taskforge"
    verbose_name = "TaskForge platform"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from taskforge.mongo import mongo_connect

        mongo_connect()
        # Outbox handlers register themselves when their module is imported.
        from django.utils.module_loading import autodiscover_modules

        autodiscover_modules("sync")
