"""Celery application: RabbitMQ broker, JSON only, late acks, explicit queues.

Tasks are queued only after the surrounding transaction commits (use
`taskforge.tasks_util.enqueue_on_commit`). Queues, routes and the beat
schedule are in settings.py (CELERY_*) and taskforge/schedule.py. The request's database context
(user, role, IP, user agent, request id) travels in the message headers and is
re-applied on the worker, so audit rows written by jobs name the right actor.
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery, signals

from taskforge.dbcontext import DbContext, context_current, context_reset, context_set
from taskforge.requestctx import request_id_var

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "taskforge.settings")

app = Celery("taskforge")
app.config_from_object("django.conf:settings", namespace="CELERY")

# Each app's AppConfig.ready() imports the modules that define its jobs (next to the
# functions they call), so every process that sets Django up knows every job.


@signals.before_task_publish.connect
def _carry_context(headers: dict[str, Any] | None = None, **kwargs: Any) -> None:
    if headers is not None:
        ctx = context_current().as_headers()
        if not ctx.get("request_id"):
            ctx["request_id"] = request_id_var.get() if request_id_var.get() != "-" else ""
        headers["taskforge_context"] = ctx


_tokens: dict[str, tuple[object, object]] = {}


@signals.task_prerun.connect
def _apply_context(task_id: str | None = None, task: Any = None, **kwargs: Any) -> None:
    raw = getattr(task.request, "taskforge_context", None) if task is not None else None
    ctx = DbContext.from_headers(raw)
    if task_id:
        _tokens[task_id] = (context_set(ctx), request_id_var.set(ctx.request_id or "-"))


@signals.task_postrun.connect
def _clear_context(task_id: str | None = None, **kwargs: Any) -> None:
    from django.db import close_old_connections

    tokens = _tokens.pop(task_id or "", None)
    if tokens:
        context_reset(tokens[0])
        request_id_var.reset(tokens[1])  # type: ignore[arg-type]
    close_old_connections()
