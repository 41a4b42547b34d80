"""Idempotency-Key on creating POSTs: a repeat returns the first response, a different
request under the same key is refused, and parallel repeats create exactly once."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from django.db import connections
from rest_framework.test import APIClient

from accounts.models import Invitation
from api.tests.conftest import bearer
from taskforge.dbcontext import context_for_system, db_context

PARALLEL = 6


def _invite(api: APIClient, slug: str, secret: str, key: str | None, email: str = "new@example.com"):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return api.post(
        f"/api/v1/teams/{slug}/invitations/",
        {"email": email, "role": "member"},
        format="json",
        **bearer(secret),
        **headers,
    )


def _invitations(email: str) -> int:
    with db_context(context_for_system("test count")):
        return Invitation.objects.filter(email=email).count()


@pytest.mark.django_db
def test_a_repeat_returns_the_first_response(api, people, token_for) -> None:
    secret = token_for(people.team_admin)
    key = str(uuid.uuid4())
    first = _invite(api, people.x.slug, secret, key)
    assert first.status_code == 201, first.content
    again = _invite(api, people.x.slug, secret, key)
    assert again.status_code == 201 and again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert _invitations("new@example.com") == 1
    # A new key is a new request.
    assert _invite(api, people.x.slug, secret, str(uuid.uuid4())).json()["id"] != first.json()["id"]


@pytest.mark.django_db
def test_the_same_key_for_another_request_is_422(api, people, token_for) -> None:
    secret = token_for(people.team_admin)
    key = str(uuid.uuid4())
    assert _invite(api, people.x.slug, secret, key).status_code == 201
    other = _invite(api, people.x.slug, secret, key, email="other@example.com")
    assert other.status_code == 422 and other.json()["errors"][0]["field"] == "Idempotency-Key"
    assert _invitations("other@example.com") == 0


@pytest.mark.django_db
def test_keys_are_per_person(api, people, token_for) -> None:
    # Two admins using the same key do not see each other's answers.
    from accounts.models import Membership

    with db_context(context_for_system("test")):
        Membership.objects.filter(team=people.x, user=people.team_member).update(role="admin")
    key = "shared-key"
    first = _invite(api, people.x.slug, token_for(people.team_admin), key, email="a@example.com")
    second = _invite(api, people.x.slug, token_for(people.team_member), key, email="b@example.com")
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] != second.json()["id"]


@pytest.mark.django_db
def test_refusals_are_replayed_too_and_bad_keys_refused(api, people, token_for) -> None:
    secret = token_for(people.team_member)  # members may not invite (403)
    assert _invite(api, people.x.slug, secret, "k1").status_code == 403
    replayed = _invite(api, people.x.slug, secret, "k1")
    assert replayed.status_code == 403 and replayed["Content-Type"] == "application/problem+json"
    assert replayed["Idempotent-Replayed"] == "true"
    bad = _invite(api, people.x.slug, token_for(people.team_admin), "spaces are not allowed")
    assert bad.status_code == 400


def test_parallel_repeats_create_exactly_once(committed_db, settings) -> None:
    from accounts.services.api_tokens import api_token_create
    from taskforge.testing.personas import people_create

    settings.API_TOKEN_RATE = settings.API_IP_RATE = "100000/minute"
    people = people_create("idem")
    with db_context(context_for_system("test")):
        secret = api_token_create(user=people.team_admin, name="race", scope="read_write").secret
    key = str(uuid.uuid4())
    barrier = threading.Barrier(PARALLEL)
    answers: list[tuple[int, dict]] = []

    def post() -> None:
        try:
            barrier.wait(timeout=10)
            response = _invite(APIClient(), people.x.slug, secret, key, email="race@example.com")
            answers.append((response.status_code, response.json()))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=post) for _ in range(PARALLEL)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(answers) == PARALLEL
    assert {status for status, _ in answers} <= {201, 409}, answers
    created = {body["id"] for status, body in answers if status == 201}
    assert len(created) == 1, answers
    assert _invitations("race@example.com") == 1
    # Once the first has finished, every repeat gets its answer.
    time.sleep(0.1)
    replay = _invite(APIClient(), people.x.slug, secret, key, email="race@example.com")
    assert replay.status_code == 201 and replay.json()["id"] in created
