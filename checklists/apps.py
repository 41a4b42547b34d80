from django.apps import AppConfig


class ChecklistsConfig(AppConfig):
    """Departure checklists: a trip's template of ops work, which becomes tasks on the teams'
    boards when a departure gets its first confirmed booking (issue 20, part 4). This app
    joins the two halves of the product, so it sits above both tasks and bookings."""

    name = "checklists"
    verbose_name = "Departure checklists"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The lower apps own the registries; this app fills them (they never import it).
        # The outbox handler is registered by checklists/sync.py (imported by the sync app).
        from bookings.hooks import departure_cancelled_subscribe, departure_links_register
        from checklists import services
        from checklists.selectors import departure_staff_links, task_page_links
        from sync.events import business_event_subscribe
        from tasks.extensions import task_links_register

        business_event_subscribe(services.checklist_on_business_event)
        departure_cancelled_subscribe(services.checklist_on_departure_cancelled)
        departure_links_register(departure_staff_links)
        task_links_register(task_page_links)
