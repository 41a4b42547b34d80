"""Celery jobs of the platform: the outbox relay."""

from __future__ import annotations

from celery import shared_task

from taskforge.outbox import relay_sweep as outbox_relay_sweep


@shared_task(name="sync.relay_sweep", ignore_result=True, time_limit=120, soft_time_limit=110)
def relay_sweep() -> int:
    return outbox_relay_sweep()


@shared_task(name="sync.ping")
def ping(value: str) -> dict[str, str]:
    """Round trip through the broker and a worker; used by readiness checks and tests."""
    from taskforge.dbcontext import context_current

    ctx = context_current()
    return {"echo": value, "request_id": ctx.request_id, "user_id": ctx.user_id}
