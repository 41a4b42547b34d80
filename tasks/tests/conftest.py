"""Fixtures of the tasks tests: a team with an admin, a member and a guest, plus an outsider
in another team; `acting(user)` sets the database context the way a request does."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace

import pytest

from taskforge.dbcontext import DbContext, db_context


@contextmanager
def acting(user) -> Iterator[None]:
    with db_context(DbContext(user_id=str(user.pk), role="user", user_agent="pytest", request_id="test-req-0001")):
        yield


@pytest.fixture
def crew(make_user):
    from accounts.models import Membership, Team

    # No password (tests sign in with force_login): skips five Argon2 hashes per test.
    admin = make_user("member", display_name="Ada Admin", password=None)
    member = make_user("member", display_name="Mel Member", password=None)
    member2 = make_user("member", display_name="Max Member", password=None)
    guest = make_user("member", display_name="Gus Guest", password=None)
    outsider = make_user("member", display_name="Otto Outsider", password=None)
    team = Team.objects.create(name="Ops", slug=f"ops-{admin.pk}", created_by=admin)
    other = Team.objects.create(name="Other", slug=f"other-{admin.pk}", created_by=outsider)
    Membership.objects.create(team=team, user=admin, role="admin")
    Membership.objects.create(team=team, user=member, role="member")
    Membership.objects.create(team=team, user=member2, role="member")
    Membership.objects.create(team=team, user=guest, role="guest")
    Membership.objects.create(team=other, user=outsider, role="admin")
    return SimpleNamespace(
        team=team, other=other, admin=admin, member=member, member2=member2, guest=guest, outsider=outsider
    )


@pytest.fixture
def make_task(crew):
    from tasks import services

    def factory(actor=None, **fields):
        actor = actor or crew.admin
        fields.setdefault("title", "A task")
        with acting(actor):
            return services.task_create(actor=actor, team_id=fields.pop("team_id", crew.team.id), **fields)

    return factory


@pytest.fixture(autouse=True)
def _clean_attachments():
    """Files outlive the rolled-back test transaction: start every test with none."""
    import shutil
    from pathlib import Path

    from django.conf import settings

    shutil.rmtree(Path(settings.MEDIA_ROOT) / "attachments", ignore_errors=True)
    yield


@pytest.fixture(autouse=True)
def _forget_document_outages(monkeypatch):
    """Some modules stop asking MongoDB for a few seconds after it failed (process-wide);
    a test that stopped the document server must not change what the next test sees."""
    import accounts.selectors
    from sync.relay import store_pause_clear

    store_pause_clear()
    monkeypatch.setattr(accounts.selectors, "_mongo_down_until", 0.0, raising=False)
    yield
