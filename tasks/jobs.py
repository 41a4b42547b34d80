"""Celery jobs of the tasks app."""

from __future__ import annotations

from celery import shared_task

from taskforge.dbcontext import DbContext, db_context


@shared_task(name="notifications.due_scan", ignore_result=True, time_limit=300, soft_time_limit=280)
def due_scan() -> int:
    """Notify about tasks due within 24 hours and overdue ones (beat, every 15 minutes).

    A system job: it acts with the admin role so row-level security lets it see every
    team's tasks (like manage.py seed_demo). It writes no task rows, only notifications.
    """
    from tasks.services import notifications_due_scan

    with db_context(DbContext(role="system", user_agent="celery notifications.due_scan")):
        return notifications_due_scan()
