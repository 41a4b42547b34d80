from django.apps import AppConfig


class SyncConfig(AppConfig):
    """The outbox: events recorded with each PostgreSQL change, applied to MongoDB and the
    search projections by the relay, and reconciled."""

    name = "sync"
    verbose_name = "Sync (outbox)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.utils.module_loading import autodiscover_modules

        # Celery jobs live next to what they call; importing them registers them.
        import sync.probe
        import sync.reconcile
        import sync.relay
        import sync.status  # noqa: F401
        from sync.status import outbox_gauges_refresh
        from taskforge.metrics import scrape_refresher_register

        # Each app registers its outbox handlers and reconcilers in its `sync.py`.
        autodiscover_modules("sync")
        scrape_refresher_register(outbox_gauges_refresh)
