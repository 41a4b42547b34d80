"""Two site admins removing each other at the same moment: one removal wins, one is refused."""

from __future__ import annotations

import threading

from django.db import connections

from accounts.models import CapabilityGrant
from accounts.services.capabilities import capabilities_set
from taskforge.dbcontext import context_for_system, context_for_user, db_context
from taskforge.errors import ServiceError
from taskforge.testing.personas import person_create


def test_two_admins_removing_each_other_at_once_leave_one(committed_db) -> None:
    """The last site admin cannot be removed, even by two removals racing each other."""
    a, b = person_create("admin", "race-a@example.com"), person_create("admin", "race-b@example.com")
    barrier, outcomes = threading.Barrier(2), []

    def remove(actor, target) -> None:
        try:
            barrier.wait(timeout=10)
            with db_context(context_for_user(actor)):
                capabilities_set(actor=actor, user_id=target.pk, capabilities=[])
            outcomes.append("removed")
        except ServiceError as exc:
            outcomes.append(exc.status)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=remove, args=pair) for pair in ((a, b), (b, a))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(outcomes, key=str) == [409, "removed"]
    with db_context(context_for_system("test")):
        assert CapabilityGrant.objects.filter(capability="site_admin").count() == 1
