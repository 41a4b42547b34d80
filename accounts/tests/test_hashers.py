"""Password hashing: Argon2id at OWASP's minimum costs; older, costlier hashes still work."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher as RawArgon2
from argon2 import extract_parameters
from argon2.low_level import Type
from django.contrib.auth.hashers import Argon2PasswordHasher, make_password
from django.test import Client

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"
REAL = ["accounts.hashers.Argon2idPasswordHasher"]


def _params(encoded: str):
    return extract_parameters(encoded.removeprefix("argon2"))


def test_the_configured_hasher_is_argon2id_at_owasp_costs(settings) -> None:
    from taskforge import settings as project  # the module, not the overridden test settings

    assert project.PASSWORD_HASHERS[0] == REAL[0]
    settings.PASSWORD_HASHERS = REAL
    params = _params(make_password(PASSWORD))
    assert params.type is Type.ID
    assert (params.memory_cost, params.time_cost, params.parallelism) == (19 * 1024, 2, 1)


def test_an_old_costlier_hash_signs_in_and_is_rehashed(settings, make_user) -> None:
    settings.PASSWORD_HASHERS = REAL
    user = make_user("traveller", email="old@example.com", email_verified=True)
    # A hash made with Django's default Argon2 costs (100 MiB, t=2, p=8), as stored before.
    old = "argon2" + RawArgon2(
        time_cost=Argon2PasswordHasher.time_cost,
        memory_cost=Argon2PasswordHasher.memory_cost,
        parallelism=Argon2PasswordHasher.parallelism,
    ).hash(PASSWORD)
    type(user).objects.filter(pk=user.pk).update(password=old)

    response = Client().post("/accounts/login/", {"email": "old@example.com", "password": PASSWORD})

    assert response.status_code == 302
    user.refresh_from_db()
    assert user.password != old
    assert _params(user.password).memory_cost == 19 * 1024


def test_a_wrong_password_against_an_old_hash_is_refused_and_not_rehashed(settings, make_user) -> None:
    settings.PASSWORD_HASHERS = REAL
    user = make_user("traveller", email="old2@example.com", email_verified=True)
    old = "argon2" + RawArgon2(time_cost=2, memory_cost=102400, parallelism=8).hash(PASSWORD)
    type(user).objects.filter(pk=user.pk).update(password=old)

    response = Client().post("/accounts/login/", {"email": "old2@example.com", "password": "not-the-password"})

    assert response.status_code == 400
    user.refresh_from_db()
    assert user.password == old
