"""Deliveries: from a business event to signed POSTs, with retries and dead letters.

1. Recording (in the change's transaction). `webhook_event_record` is subscribed to the
   business events of sync/events.py: it writes one outbox event (aggregate "webhook",
   the event as payload) in the transaction of the change, so the event commits or rolls
   back with it. It reads nothing (the person making the change may not see the endpoints).
2. Fan-out (the outbox relay, as the system). `deliveries_fan_out`, the outbox handler of
   "webhook" events (webhooks/sync.py), makes one WebhookDelivery per active endpoint of the
   event's scope that asked for its type (at most once per endpoint and event: a replayed
   outbox event changes nothing) and queues their first attempt after commit.
3. Attempts (Celery, `notifications.webhook_deliver`). `delivery_attempt` claims the delivery
   (an UPDATE that moves `next_attempt_at` forward by a lease, so no two workers post the
   same attempt), signs and posts it (webhooks/transport.py guards the target), and records
   the answer: 2xx = succeeded; anything else = failed, tried again after BASE * 2^(n-1)
   seconds (capped, with jitter), and a dead letter after WEBHOOK_MAX_ATTEMPTS attempts.
4. The sweep (beat, `notifications.webhook_sweep`, every 15 s) queues every delivery that is
   due: the retries (they are not queued with an ETA: a message held for hours by a worker
   would outlive RabbitMQ's consumer timeout), and first attempts whose message was lost.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import logging
import random
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from sync.events import BusinessEvent
from sync.outbox import outbox_record
from taskforge.dbcontext import context_for_system, db_context
from taskforge.errors import Conflict, NotFound
from taskforge.tasks_util import enqueue_on_commit
from webhooks.models import RETRYABLE, DeliveryStatus, EndpointScope, WebhookDelivery, WebhookEndpoint
from webhooks.services.endpoints import endpoint_load
from webhooks.signing import DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, signature_header
from webhooks.transport import TargetRefused, post, target_resolve

logger = logging.getLogger(__name__)

OUTBOX_AGGREGATE = "webhook"
USER_AGENT = "TaskForge-Webhooks/1"
SWEEP_BATCH = 500


# --- 1. recording -------------------------------------------------------------------------


def webhook_event_record(event: BusinessEvent) -> None:
    """Business-event subscriber: the event as an outbox event, in the change's transaction."""
    outbox_record(
        aggregate_type=OUTBOX_AGGREGATE,
        aggregate_id=event.id,
        version=1,
        event_type=event.type,
        payload={**event.as_payload(), "scope": event.scope},
    )


# --- 2. fan-out ---------------------------------------------------------------------------


def _matching_endpoints(payload: dict[str, Any]) -> list[WebhookEndpoint]:
    qs = WebhookEndpoint.objects.filter(active=True, event_types__contains=[payload["type"]])
    if payload["scope"] == EndpointScope.TEAM:
        qs = qs.filter(scope=EndpointScope.TEAM, team_id=payload["team_id"])
    else:
        qs = qs.filter(scope=EndpointScope.DESK)
    return list(qs.only("id"))


def deliveries_fan_out(payload: dict[str, Any]) -> list[str]:
    """One delivery per matching endpoint (idempotent); their first attempts are queued on commit.

    Returns the ids of the event's deliveries still waiting for their first attempt."""
    body = {key: payload[key] for key in ("id", "type", "created_at", "team_id", "data")}
    endpoints = _matching_endpoints(payload)
    if not endpoints:
        return []
    with transaction.atomic():
        WebhookDelivery.objects.bulk_create(
            [
                WebhookDelivery(endpoint_id=e.pk, event_id=body["id"], event_type=body["type"], payload=body)
                for e in endpoints
            ],
            ignore_conflicts=True,
        )
        waiting = [
            str(pk)
            for pk in WebhookDelivery.objects.filter(
                endpoint_id__in=[e.pk for e in endpoints],
                event_id=body["id"],
                status=DeliveryStatus.PENDING,
                attempts=0,
            ).values_list("id", flat=True)
        ]
        for delivery_id in waiting:
            enqueue_on_commit(webhook_deliver_task, delivery_id)
    return waiting


# --- 3. attempts --------------------------------------------------------------------------


def body_bytes(payload: dict[str, Any]) -> bytes:
    """The exact bytes posted (and signed): compact JSON, UTF-8."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def backoff_seconds(attempts: int) -> float:
    """Wait before attempt `attempts + 1`: BASE * 2^(attempts-1), capped, with +-20% jitter."""
    base = settings.WEBHOOK_BACKOFF_BASE_SECONDS * (2 ** max(attempts - 1, 0))
    return min(base, settings.WEBHOOK_BACKOFF_MAX_SECONDS) * random.uniform(0.8, 1.2)


def _lease_seconds() -> int:
    # Longer than one attempt can take (connect + send + read, each with the timeout).
    return settings.WEBHOOK_TIMEOUT_SECONDS * 4 + 30


def _claim(delivery_id: str) -> WebhookDelivery | None:
    now = timezone.now()
    claimed = WebhookDelivery.objects.filter(pk=delivery_id, status__in=RETRYABLE, next_attempt_at__lte=now).update(
        attempts=F("attempts") + 1,
        next_attempt_at=now + dt.timedelta(seconds=_lease_seconds()),
        updated_at=now,
    )
    if not claimed:
        return None
    return WebhookDelivery.objects.select_related("endpoint").filter(pk=delivery_id).first()


def _record(delivery: WebhookDelivery, *, ok: bool, code: int | None, error: str, duration_ms: int | None) -> str:
    now = timezone.now()
    fields: dict[str, Any] = {
        "last_response_code": code,
        "last_error": error[:500],
        "duration_ms": duration_ms,
        "updated_at": now,
    }
    if ok:
        fields.update(status=DeliveryStatus.SUCCEEDED, delivered_at=now, next_attempt_at=now)
    elif delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS or not delivery.endpoint.active:
        fields.update(status=DeliveryStatus.DEAD, next_attempt_at=now)
    else:
        delay = backoff_seconds(delivery.attempts)
        fields.update(status=DeliveryStatus.FAILED, next_attempt_at=now + dt.timedelta(seconds=delay))
    # Only while this claim still holds it (attempts unchanged): a late worker changes nothing.
    WebhookDelivery.objects.filter(pk=delivery.pk, attempts=delivery.attempts).update(**fields)
    status = fields["status"]
    if status == DeliveryStatus.DEAD:
        logger.warning(
            "webhook delivery %s is a dead letter after %s attempts: %s", delivery.pk, delivery.attempts, error
        )
    return str(status)


def delivery_headers(delivery: WebhookDelivery, body: bytes) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        EVENT_HEADER: delivery.event_type,
        DELIVERY_HEADER: str(delivery.pk),
        SIGNATURE_HEADER: signature_header(delivery.endpoint.secret, body),
    }


def delivery_attempt(delivery_id: str) -> str:
    """Claim, sign, post and record one attempt of a delivery (as the system).

    Returns the delivery's status afterwards, or "skipped" when it was not due (already
    delivered, a dead letter, claimed by another worker, or waiting for its retry time)."""
    with db_context(context_for_system("webhook delivery")):
        delivery = _claim(delivery_id)
        if delivery is None:
            return "skipped"
        endpoint = delivery.endpoint
        if not endpoint.active:
            return _record(delivery, ok=False, code=None, error="The endpoint is disabled.", duration_ms=None)
        body = body_bytes(delivery.payload)
        try:
            target = target_resolve(endpoint.url)
            result = post(target, body, delivery_headers(delivery, body), timeout=settings.WEBHOOK_TIMEOUT_SECONDS)
        except TargetRefused as exc:
            return _record(delivery, ok=False, code=None, error=f"Refused: {exc}", duration_ms=None)
        except (OSError, http.client.HTTPException) as exc:
            return _record(delivery, ok=False, code=None, error=f"{type(exc).__name__}: {exc}", duration_ms=None)
        ok = 200 <= result.status < 300
        error = "" if ok else f"HTTP {result.status}"
        return _record(delivery, ok=ok, code=result.status, error=error, duration_ms=result.duration_ms)


def deliveries_due(limit: int = SWEEP_BATCH) -> list[str]:
    """Ids of deliveries whose attempt is due (oldest first), as the system."""
    with db_context(context_for_system("webhook sweep")):
        return [
            str(pk)
            for pk in WebhookDelivery.objects.filter(status__in=RETRYABLE, next_attempt_at__lte=timezone.now())
            .order_by("next_attempt_at")
            .values_list("id", flat=True)[:limit]
        ]


def deliveries_purge(*, older_than_days: int | None = None, batch: int = 5000) -> int:
    """Delete finished deliveries (succeeded, dead) older than WEBHOOK_DELIVERY_RETENTION_DAYS,
    as the system: the log is for troubleshooting, and bodies carry people's data."""
    days = settings.WEBHOOK_DELIVERY_RETENTION_DAYS if older_than_days is None else older_than_days
    cutoff = timezone.now() - dt.timedelta(days=days)
    removed = 0
    with db_context(context_for_system("webhook purge")):
        while True:
            ids = list(
                WebhookDelivery.objects.filter(
                    created_at__lt=cutoff, status__in=(DeliveryStatus.SUCCEEDED, DeliveryStatus.DEAD)
                ).values_list("id", flat=True)[:batch]
            )
            if not ids:
                return removed
            # Redeliveries point at what they repeat (SET NULL), so any order is safe.
            removed += WebhookDelivery.objects.filter(pk__in=ids).delete()[0]


# --- redelivery ---------------------------------------------------------------------------


def delivery_redeliver(*, actor: Any, delivery_id: Any) -> WebhookDelivery:
    """Send a delivery's event again: a new delivery (same event id and body), attempted at once."""
    with transaction.atomic():
        original = WebhookDelivery.objects.filter(pk=delivery_id).first() if _is_uuid(delivery_id) else None
        if original is None:
            raise NotFound("No such delivery.")
        endpoint = endpoint_load(actor, original.endpoint_id)
        if not endpoint.active:
            raise Conflict("This endpoint is disabled; enable it before redelivering.")
        delivery = WebhookDelivery.objects.create(
            endpoint=endpoint,
            event_id=original.event_id,
            event_type=original.event_type,
            payload=original.payload,
            redelivery_of=original,
        )
        enqueue_on_commit(webhook_deliver_task, str(delivery.pk))
    return delivery


def _is_uuid(value: Any) -> bool:
    try:
        WebhookDelivery._meta.pk.to_python(value)
    except Exception:  # noqa: BLE001 - ValidationError for anything that is not a UUID
        return False
    return True


# --- Celery jobs --------------------------------------------------------------------------


@shared_task(name="notifications.webhook_deliver", ignore_result=True, time_limit=180, soft_time_limit=170)
def webhook_deliver_task(delivery_id: str) -> str:
    """One attempt of one delivery (queued after commit, on retry, and by the sweep)."""
    return delivery_attempt(delivery_id)


@shared_task(name="notifications.webhook_purge", ignore_result=True, time_limit=600, soft_time_limit=590)
def webhook_purge_task() -> int:
    """Delete old finished deliveries (beat, hourly)."""
    return deliveries_purge()


@shared_task(name="notifications.webhook_sweep", ignore_result=True, time_limit=60, soft_time_limit=55)
def webhook_sweep_task() -> int:
    """Queue every delivery that is due (beat, every 15 s)."""
    due = deliveries_due()
    for delivery_id in due:
        webhook_deliver_task.apply_async(args=[delivery_id], expires=300)
    return len(due)
