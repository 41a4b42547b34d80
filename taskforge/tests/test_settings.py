"""Settings come from the environment and fail fast, naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from pyrage import x25519

from taskforge.env import env_bool, env_database, env_int, env_url

ROOT = Path(__file__).resolve().parents[2]


def test_env_bool_accepts_the_usual_spellings() -> None:
    assert env_bool("X", False, environ_map={"X": "yes"}) is True
    assert env_bool("X", True, environ_map={"X": "0"}) is False
    assert env_bool("X", True, environ_map={}) is True


def test_env_bool_rejects_garbage_naming_the_variable() -> None:
    with pytest.raises(ImproperlyConfigured, match="DJANGO_DEBUG"):
        env_bool("DJANGO_DEBUG", False, environ_map={"DJANGO_DEBUG": "maybe"})


def test_env_int_rejects_non_numbers_and_out_of_range() -> None:
    with pytest.raises(ImproperlyConfigured, match="DB_POOL_MAX"):
        env_int("DB_POOL_MAX", 10, environ_map={"DB_POOL_MAX": "ten"})
    with pytest.raises(ImproperlyConfigured, match="BACKUP_HOUR=25"):
        env_int("BACKUP_HOUR", 2, maximum=23, environ_map={"BACKUP_HOUR": "25"})
    assert env_int("BACKUP_HOUR", 2, maximum=23, environ_map={"BACKUP_HOUR": " 4 "}) == 4


def test_env_url_and_database_validation() -> None:
    with pytest.raises(ImproperlyConfigured, match="REDIS_URL"):
        env_url("REDIS_URL", "", ("redis",), environ_map={"REDIS_URL": "localhost:6379"})
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL"):
        env_database("DATABASE_URL", None, environ_map={"DATABASE_URL": "mysql://x@y/z"})
    cfg = env_database("DATABASE_URL", None, environ_map={"DATABASE_URL": "postgres://app:pw@db:5433/tf"})
    assert (cfg["USER"], cfg["PASSWORD"], cfg["HOST"], cfg["PORT"], cfg["NAME"]) == ("app", "pw", "db", 5433, "tf")


def _run_check(extra_env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    env.update(extra_env)
    return subprocess.run(
        [sys.executable, "manage.py", "check", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("DJANGO_DEBUG", "perhaps"),
        ("DB_POOL_MAX", "lots"),
        ("MONGODB_URI", "localhost"),
        ("SESSION_IDLE_SECONDS", "-5"),
    ],
)
def test_malformed_value_stops_startup_naming_the_variable(var: str, value: str) -> None:
    result = _run_check({var: value})
    assert result.returncode != 0
    assert var in result.stderr


def test_debug_is_off_unless_asked_for() -> None:
    from django.conf import settings

    assert settings.DEBUG is False


def test_production_requires_a_real_secret_key() -> None:
    result = _run_check({"DJANGO_SETTINGS_PROFILE": "prod", "DJANGO_ALLOWED_HOSTS": "tf.example.com"})
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


PROD_ENV = {
    "DJANGO_SETTINGS_PROFILE": "prod",
    "DJANGO_SECRET_KEY": "k" * 20 + "Q9x!v2@Lp#7zR$4mT%8nW^3bY&6cH*1d",
    "DJANGO_ALLOWED_HOSTS": "tf.example.com",
    "METRICS_TOKEN": "m" * 16 + "7Hq2Zp9Lw4Xc8Vb3Nd6F",
    # A public key of the test's own making; its private half is thrown away.
    "BACKUP_AGE_RECIPIENTS": str(x25519.Identity.generate().to_public()),
}


def test_production_refuses_to_start_without_a_metrics_token() -> None:
    result = _run_check({k: v for k, v in PROD_ENV.items() if k != "METRICS_TOKEN"})
    assert result.returncode != 0
    assert "METRICS_TOKEN must be set" in result.stderr


def test_production_refuses_a_short_metrics_token() -> None:
    result = _run_check({**PROD_ENV, "METRICS_TOKEN": "change-me"})
    assert result.returncode != 0
    assert "METRICS_TOKEN must be at least 32 characters" in result.stderr


def test_production_refuses_to_start_without_a_backup_recipient() -> None:
    result = _run_check({k: v for k, v in PROD_ENV.items() if k != "BACKUP_AGE_RECIPIENTS"})
    assert result.returncode != 0
    assert "BACKUP_AGE_RECIPIENTS must be set in production" in result.stderr


def test_a_malformed_backup_recipient_stops_startup_naming_the_variable() -> None:
    result = _run_check({**PROD_ENV, "BACKUP_AGE_RECIPIENTS": f"{PROD_ENV['BACKUP_AGE_RECIPIENTS']},age1notakey"})
    assert result.returncode != 0
    assert "BACKUP_AGE_RECIPIENTS: 'age1notakey' is not an age public key" in result.stderr


def test_production_settings_pass_check_deploy_without_warnings() -> None:
    result = _run_check(
        PROD_ENV,
        "--deploy",
        "--fail-level",
        "WARNING",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
