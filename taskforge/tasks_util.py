"""Queue Celery tasks only after the surrounding transaction commits."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

logger = logging.getLogger(__name__)


def enqueue_on_commit(task: Any, *args: Any, using: str = "default", **kwargs: Any) -> None:
    """Send `task` with ids (never model instances) once the transaction commits.

    A broker outage is logged, not raised: the request already committed, and the
    periodic sweeps (outbox relay, digests) pick up what the fast path missed.
    """

    def send() -> None:
        try:
            task.apply_async(args=args, kwargs=kwargs)
        except Exception:
            logger.exception("could not queue %s; the periodic sweep will catch up", getattr(task, "name", task))

    transaction.on_commit(send, using=using)
