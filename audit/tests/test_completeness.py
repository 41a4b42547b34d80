"""Audit completeness: 10,000 mixed changes, each producing exactly one audit row with its actor.

ORM save(), QuerySet.update(), bulk_create(), bulk_update() and raw SQL (UPDATE and
DELETE) on users, teams and memberships; each step runs as a different acting user.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest
from django.db import connection
from django.db.models import F, Value
from django.db.models.functions import Concat

from accounts.models import Membership, Team, User
from audit.models import AuditLog
from taskforge.dbcontext import DbContext, db_context

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

TABLES = ("accounts_user", "accounts_team", "accounts_membership")


def test_ten_thousand_mixed_changes_give_one_audit_row_each_with_the_actor() -> None:
    started = time.monotonic()
    steps: list[tuple[str, str, str, set[str]]] = []  # (request id, table, operation, record ids)
    actor_ids = iter(range(9001, 9100))

    def step(name: str) -> DbContext:
        return DbContext(user_id=str(next(actor_ids)), role="user", ip="192.0.2.1", request_id=f"complete-{name}")

    with db_context(ctx := step("users-bulk-create")):
        users = User.objects.bulk_create(
            [User(email=f"c{i}@example.com", password="!unusable", display_name=f"C {i}") for i in range(1000)]
        )
    steps.append((ctx.request_id, "accounts_user", "INSERT", {str(u.pk) for u in users}))

    with db_context(ctx := step("teams-bulk-create")):
        teams = Team.objects.bulk_create([Team(name=f"Team {i}", slug=f"complete-{i}") for i in range(2000)])
    steps.append((ctx.request_id, "accounts_team", "INSERT", {str(t.pk) for t in teams}))

    with db_context(ctx := step("teams-save")):
        for team in teams[:500]:
            team.name = f"{team.name} (saved)"
            team.save(update_fields=["name"])
    steps.append((ctx.request_id, "accounts_team", "UPDATE", {str(t.pk) for t in teams[:500]}))

    with db_context(ctx := step("teams-update")):
        changed = Team.objects.filter(pk__in=[t.pk for t in teams[500:]]).update(name=Concat(F("name"), Value("!")))
    assert changed == 1500
    steps.append((ctx.request_id, "accounts_team", "UPDATE", {str(t.pk) for t in teams[500:]}))

    with db_context(ctx := step("memberships-bulk-create")):
        memberships = Membership.objects.bulk_create(
            [Membership(team=teams[i], user=users[i % 1000], role="member") for i in range(2000)]
        )
    steps.append((ctx.request_id, "accounts_membership", "INSERT", {str(m.pk) for m in memberships}))

    with db_context(ctx := step("memberships-bulk-update")):
        for m in memberships[:1000]:
            m.role = "guest"
        Membership.objects.bulk_update(memberships[:1000], ["role"], batch_size=500)
    steps.append((ctx.request_id, "accounts_membership", "UPDATE", {str(m.pk) for m in memberships[:1000]}))

    with db_context(ctx := step("users-raw-update")), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE accounts_user SET display_name = 'raw ' || id WHERE id = ANY(%s)", [[u.pk for u in users]]
        )
        assert cursor.rowcount == 1000
    steps.append((ctx.request_id, "accounts_user", "UPDATE", {str(u.pk) for u in users}))

    with db_context(ctx := step("memberships-raw-delete")), connection.cursor() as cursor:
        doomed = [m.pk for m in memberships[1000:]]
        cursor.execute("DELETE FROM accounts_membership WHERE id = ANY(%s)", [doomed])
        assert cursor.rowcount == 1000
    steps.append((ctx.request_id, "accounts_membership", "DELETE", {str(pk) for pk in doomed}))

    assert sum(len(ids) for *_, ids in steps) == 10_000

    with db_context(DbContext(user_id="1", role="system")):
        rows = list(
            AuditLog.objects.filter(table_name__in=TABLES).values_list(
                "request_id", "table_name", "operation", "record_id", "user_id"
            )
        )
    assert len(rows) == 10_000  # nothing missing, nothing extra
    by_step: dict[str, list[tuple]] = {}
    for row in rows:
        by_step.setdefault(row[0], []).append(row)
    for n, (request_id, table, operation, ids) in enumerate(steps):
        got = by_step.get(request_id, [])
        assert Counter((r[1], r[2]) for r in got) == {(table, operation): len(ids)}, request_id
        record_ids = [r[3] for r in got]
        assert len(record_ids) == len(set(record_ids)) and set(record_ids) == ids, f"{request_id}: one row per change"
        assert {r[4] for r in got} == {9001 + n}, f"{request_id}: every row names the acting user"
    assert time.monotonic() - started < 30
