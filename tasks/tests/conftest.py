"""Fixtures of the tasks tests, on the shared people (root conftest `people`): team x with its
admin, member and guest (`people.team_admin`, `people.team_member`, `people.team_guest`), and
`people.y_admin`, who runs team y and is an outsider to team x. `member2` is a second member
of team x, for the rules between two members. Tests act as a person with
taskforge.testing.personas.acting."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from django.conf import settings

from accounts.models import Membership
from accounts.selectors import profile_breaker_reset
from sync.relay import store_pause_clear
from taskforge.dbcontext import context_for_system, db_context
from taskforge.testing.personas import acting, person_create
from tasks import services


@pytest.fixture
def member2(people):
    """Max Member: another member of team x (neither creator nor assignee of the others' tasks)."""
    user = person_create("member", f"max-member-{time.monotonic_ns()}@example.com", display_name="Max Member")
    with db_context(context_for_system("test member2")):
        Membership.objects.create(team=people.x, user=user, role="member")
    return user


@pytest.fixture
def make_task(people):
    """make_task(actor=people.team_admin, team_id=people.x.id, **fields): a task made through the
    service, as that person."""

    def factory(actor=None, **fields):
        actor = actor or people.team_admin
        fields.setdefault("title", "A task")
        with acting(actor):
            return services.task_create(actor=actor, team_id=fields.pop("team_id", people.x.id), **fields)

    return factory


@pytest.fixture(autouse=True)
def _clean_attachments():
    """Files outlive the rolled-back test transaction: start every test with none."""
    shutil.rmtree(Path(settings.MEDIA_ROOT) / "attachments", ignore_errors=True)
    yield


@pytest.fixture(autouse=True)
def _forget_document_outages():
    """Some modules stop asking MongoDB for a few seconds after it failed (process-wide);
    a test that stopped the document server must not change what the next test sees."""
    store_pause_clear()
    profile_breaker_reset()
    yield
