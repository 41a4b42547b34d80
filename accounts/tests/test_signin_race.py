"""The sign-in rate limit under concurrency (security review finding 4).

Checking the failure count, running the hasher and only then counting the failure let
parallel requests all pass the check. The attempt is now reserved atomically before the
hasher runs (one Lua script in Redis; an advisory lock and a pending attempt row in
PostgreSQL when Redis is down), so with a limit of 2 at most 2 guesses reach the hasher.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from django.db import connections
from django.test import Client

from accounts.models import LoginAttempt, User
from accounts.tests.conftest import FastArgon2PasswordHasher

PASSWORD = "correct-horse-battery"
PARALLEL = 8


class CountingHasher(FastArgon2PasswordHasher):
    """The real (fast) Argon2 hasher, counting how many passwords it checks and taking a
    little time over each, like the production hasher, so the requests overlap."""

    algorithm = "argon2"
    calls = 0
    lock = threading.Lock()

    def verify(self, password: str, encoded: str) -> bool:
        with CountingHasher.lock:
            CountingHasher.calls += 1
        time.sleep(0.3)
        return super().verify(password, encoded)


@pytest.fixture
def counted(committed_db, settings) -> Iterator[User]:
    import accounts.services.signin

    settings.PASSWORD_HASHERS = ["accounts.tests.test_signin_race.CountingHasher"]
    settings.LOGIN_FAILURE_LIMIT = 2
    accounts.services.signin._dummy_hash = None
    user = User.objects.create_user("racer@example.com", PASSWORD, email_verified=True)
    CountingHasher.calls = 0
    yield user
    accounts.services.signin._dummy_hash = None


def _guess_in_parallel(email: str, ip: str) -> list[int]:
    barrier = threading.Barrier(PARALLEL)
    statuses: list[int] = []

    def guess(n: int) -> None:
        client = Client(REMOTE_ADDR=ip)
        try:
            barrier.wait(timeout=10)
            response = client.post("/accounts/login/", {"email": email, "password": f"wrong-guess-{n}"})
            statuses.append(response.status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(PARALLEL)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return sorted(statuses)


def test_parallel_wrong_passwords_reach_the_hasher_at_most_limit_times(counted) -> None:
    statuses = _guess_in_parallel(counted.email, "198.51.100.200")
    assert len(statuses) == PARALLEL
    assert CountingHasher.calls <= 2, (CountingHasher.calls, statuses)
    assert statuses.count(429) >= PARALLEL - 2 and set(statuses) <= {400, 429}
    # the locked account still refuses the right password until the window passes
    assert (
        Client(REMOTE_ADDR="198.51.100.201")
        .post("/accounts/login/", {"email": counted.email, "password": PASSWORD})
        .status_code
        == 429
    )


def test_the_right_password_releases_its_reservation(counted) -> None:
    """A success does not count against the limit (from the same address, twice over)."""
    for _ in range(3):
        client = Client(REMOTE_ADDR="198.51.100.210")
        assert client.post("/accounts/login/", {"email": counted.email, "password": PASSWORD}).status_code == 302
    assert (
        Client(REMOTE_ADDR="198.51.100.210")
        .post("/accounts/login/", {"email": "nobody@example.com", "password": "wrong-guess"})
        .status_code
        == 400
    )


def test_the_postgres_fallback_reserves_under_an_advisory_lock(counted, monkeypatch) -> None:
    from accounts import ratelimit
    from accounts.redisutil import RedisUnavailable

    def down(*args, **kwargs):
        raise RedisUnavailable("redis is down")

    monkeypatch.setattr(ratelimit, "redis_client", down)
    statuses = _guess_in_parallel(counted.email, "198.51.100.220")
    assert len(statuses) == PARALLEL
    assert CountingHasher.calls <= 2, (CountingHasher.calls, statuses)
    assert statuses.count(429) >= PARALLEL - 2
    # no reservation is left pending: each became the failure it was
    assert not LoginAttempt.objects.filter(reason="pending").exists()
    assert LoginAttempt.objects.filter(email=counted.email, reason="bad_password").count() == CountingHasher.calls
