"""The outbox handler of departure checklists (imported by the sync app at start-up)."""

from __future__ import annotations

from checklists.services import AGGREGATE, CANCELLED, STARTED, checklist_tasks_close, checklist_tasks_make
from sync.handlers import outbox_handler
from sync.models import OutboxEvent


@outbox_handler(AGGREGATE)
def checklist_apply(event: OutboxEvent) -> None:
    """Make a departure's checklist tasks, or close them when it is cancelled (idempotent)."""
    if event.event_type == STARTED:
        checklist_tasks_make(event.payload)
    elif event.event_type == CANCELLED:
        checklist_tasks_close(event.payload)
    else:
        raise ValueError(f"unknown departure checklist event {event.event_type!r}")
