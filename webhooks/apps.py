from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    """Signed webhooks: endpoints of teams (task and comment events) and of the booking desk
    (booking events), deliveries recorded through the outbox, retried, logged."""

    name = "webhooks"
    verbose_name = "Webhooks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Business events reach this app through the registry of the layer below it (tasks
        # and bookings never import webhooks); the outbox handler that turns an event into
        # deliveries is registered by webhooks/sync.py (imported by the sync app at start-up).
        from sync.events import business_event_subscribe
        from webhooks.services.deliveries import webhook_event_record

        business_event_subscribe(webhook_event_record)
