"""If-Match under concurrency: parallel updates that all name the same ETag — exactly one
is applied, every other one answers 412 (the version is checked again under the row lock)."""

from __future__ import annotations

import threading

from django.db import connections
from rest_framework.test import APIClient

from api.tests.conftest import bearer
from taskforge.dbcontext import context_for_system, db_context

PARALLEL = 6


def test_parallel_patches_with_one_etag_apply_once(committed_db, settings) -> None:
    from accounts.services.api_tokens import api_token_create
    from taskforge.testing.personas import people_create

    settings.API_TOKEN_RATE = settings.API_IP_RATE = "100000/minute"
    people = people_create("ifmatch")
    with db_context(context_for_system("test")):
        secret = api_token_create(user=people.traveller, name="race", scope="read_write").secret
    etag = APIClient().get("/api/v1/me/", **bearer(secret))["ETag"]
    barrier = threading.Barrier(PARALLEL)
    answers: list[tuple[int, str]] = []

    def patch(n: int) -> None:
        try:
            barrier.wait(timeout=10)
            response = APIClient().patch(
                "/api/v1/me/", {"bio": f"writer {n}"}, format="json", HTTP_IF_MATCH=etag, **bearer(secret)
            )
            answers.append((response.status_code, response.json().get("bio", "")))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=patch, args=(n,)) for n in range(PARALLEL)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    statuses = sorted(status for status, _ in answers)
    assert statuses == [200] + [412] * (PARALLEL - 1), answers
    winner = next(bio for status, bio in answers if status == 200)
    assert APIClient().get("/api/v1/me/", **bearer(secret)).json()["bio"] == winner
