"""Demo tasks (idempotent): team "Ops" with Sam (admin) and Kim (member), a few dozen tasks
spread over the board and the last weeks, custom fields and some comments with mentions."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from django.utils import timezone

from accounts.models import Membership, Team, User
from taskforge.dbcontext import DbContext, db_context
from taskforge.errors import Unavailable
from tasks import services
from tasks.models import Task, TaskStatus, TeamCustomField

TITLES = [
    "Rotate the database credentials",
    "Renew the TLS certificate",
    "Write the on-call runbook",
    "Fix the flaky backup check",
    "Upgrade PostgreSQL to the next minor",
    "Tune the Redis eviction policy",
    "Review the nginx rate limits",
    "Add a dashboard for queue depth",
    "Archive last year's audit rows",
    "Document the restore drill",
    "Move cron jobs to Celery beat",
    "Clean up stale feature flags",
    "Audit the admin accounts",
    "Check disk usage alerts",
    "Test the replica failover",
    "Bump gunicorn workers for the sale",
    "Investigate slow trip search",
    "Set up log shipping",
    "Plan the spring maintenance window",
    "Remove the legacy SMTP relay",
    "Add health checks to compose",
    "Write the incident template",
    "Tag the release 2.4",
    "Review the booking capacity report",
    "Trim the Docker images",
    "Rehearse the backup restore",
    "Update the dependency pins",
    "Measure the outbox lag",
    "Rotate the API keys",
    "Add alerts for dead letters",
    "Reconcile the search projection",
    "Fix the timezone in digests",
    "Prune old sessions",
    "Check certificate expiry monitoring",
    "Load test the board",
    "Sort out the shared mailbox",
]
TAGS = ["ops", "security", "database", "monitoring", "release", "docs", "performance", "email"]
DESCRIPTIONS = [
    "See the **runbook** for the steps.\n\n- check the dashboards\n- announce in #ops\n- do it",
    "Context: the last attempt failed because of a missing grant. Steps are in the [wiki](https://example.com/wiki).",
    "Low effort, but easy to forget. Keep it *short*.",
    "Needs a maintenance window. Coordinate with the booking team first.",
]


def _ensure_team(stdout: Any) -> tuple[Team, User, User] | None:
    sam = User.objects.filter(email__iexact="sam@taskforge.local").first()
    kim = User.objects.filter(email__iexact="kim@taskforge.local").first()
    if sam is None or kim is None:
        stdout.write("tasks seed: demo users sam/kim missing (run the accounts seed first); skipped")
        return None
    team = Team.objects.filter(slug="ops").first()
    if team is None:
        team = Team.objects.create(name="Ops", slug="ops", created_by=sam)
        stdout.write("created team Ops")
    Membership.objects.get_or_create(team=team, user=sam, defaults={"role": "admin"})
    Membership.objects.get_or_create(team=team, user=kim, defaults={"role": "member"})
    return team, sam, kim


def seed_demo(stdout: Any) -> None:
    found = _ensure_team(stdout)
    if found is None:
        return
    team, sam, kim = found
    if Task.objects.filter(team=team).exists():
        return
    rng = random.Random(2026)
    now = timezone.now()
    with db_context(DbContext(user_id=str(sam.pk), role="user", user_agent="manage.py seed_demo")):
        if not TeamCustomField.objects.filter(team=team).exists():
            services.custom_field_save(
                actor=sam, team_id=team.id, key="estimate", label="Estimate (hours)", field_type="number"
            )
            services.custom_field_save(
                actor=sam,
                team_id=team.id,
                key="component",
                label="Component",
                field_type="choice",
                choices="web, database, workers, network",
            )
        statuses = list(TaskStatus.values)
        created: list[Task] = []
        for i, title in enumerate(TITLES):
            status = statuses[i % len(statuses)]
            due = None
            if i % 3 == 0:
                due = now + dt.timedelta(days=rng.randint(-5, 14), hours=rng.randint(0, 12))
            task = services.task_create(
                actor=sam if i % 2 == 0 else kim,
                team_id=team.id,
                title=title,
                description=DESCRIPTIONS[i % len(DESCRIPTIONS)],
                status=status,
                priority=["low", "medium", "high", "urgent"][rng.randint(0, 3)],
                assignee_id=[sam.pk, kim.pk, None][i % 3],
                due_at=due,
                tags=rng.sample(TAGS, k=rng.randint(1, 3)),
                custom_fields={
                    "estimate": str(rng.choice([1, 2, 4, 8])),
                    "component": rng.choice(["web", "database", "workers", "network"]),
                },
            )
            created.append(task)
        # Spread creation (and completion) over the last 12 weeks for the dashboard chart.
        for task in created:
            created_at = now - dt.timedelta(days=rng.randint(0, 80), hours=rng.randint(0, 23))
            done_at = None
            if task.status == TaskStatus.DONE:
                done_at = min(created_at + dt.timedelta(days=rng.randint(1, 20)), now)
            Task.objects.filter(id=task.id).update(created_at=created_at, done_at=done_at)
        comments = 0
        for task in created[:12]:
            try:
                services.comment_create(actor=kim, task_id=task.id, body="I can pick this up next week. @sam ok?")
                services.comment_create(actor=sam, task_id=task.id, body="Thanks @kim, go ahead.")
                comments += 2
            except Unavailable:
                stdout.write("tasks seed: document server down; comments skipped")
                break
    stdout.write(f"created {len(created)} tasks and {comments} comments in team Ops")
