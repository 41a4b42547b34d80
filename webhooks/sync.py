"""Outbox handler of the webhooks app (imported at start-up by the sync app).

* "webhook": a business event recorded with the change that caused it
  (webhooks/services/deliveries.py, `webhook_event_record`), turned into one delivery per
  matching endpoint. Idempotent: a replayed event makes no second delivery.
"""

from __future__ import annotations

from sync.handlers import outbox_handler
from sync.models import OutboxEvent
from webhooks.services.deliveries import OUTBOX_AGGREGATE, deliveries_fan_out


@outbox_handler(OUTBOX_AGGREGATE)
def webhook_apply(event: OutboxEvent) -> None:
    deliveries_fan_out(event.payload)
