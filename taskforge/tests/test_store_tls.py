"""TLS to every store: the settings carry it into each client, and production warns without it.

Nothing here connects to the *.invalid hosts it names (RFC 2606: they never resolve): the
clients are built lazily and inspected. The end-to-end proof with a real server is
test_postgres_tls.py.
"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from taskforge.env import check_redis_url, env_database
from taskforge.store_tls import (
    PLAINTEXT,
    UNVERIFIED,
    broker_finding,
    is_local,
    mongo_finding,
    postgres_finding,
    redis_finding,
    tls_check,
)
from taskforge.testing.tls import Authority
from taskforge.tests.test_settings import PROD_ENV

ROOT = Path(__file__).resolve().parents[2]


def _pg(url: str) -> dict:
    config = env_database("DATABASE_URL", None, environ_map={"DATABASE_URL": url})
    assert config is not None
    return config


@pytest.fixture(scope="module")
def ca_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return Authority.create("TaskForge test CA").write_cert(tmp_path_factory.mktemp("tls") / "ca.pem")


# --- which connections count as exposed ----------------------------------------------------------


def test_loopback_and_sockets_are_local_everything_else_is_not() -> None:
    for host in ("", "127.0.0.1", "127.3.4.5", "localhost", "::1", "[::1]", "/var/run/postgresql", "%2Ftmp%2Fm.sock"):
        assert is_local(host), host
    for host in ("db.internal", "10.0.0.5", "192.0.2.1", "postgres-primary", "::ffff:10.0.0.1"):
        assert not is_local(host), host


def test_postgres_needs_a_verifying_sslmode_off_host(ca_file: Path) -> None:
    assert postgres_finding("DATABASE_URL", _pg("postgres://app@127.0.0.1:5432/tf")) is None
    assert postgres_finding("DATABASE_URL", _pg("postgres://app@db.tls.invalid:5432/tf")).problem == PLAINTEXT
    plain = postgres_finding("DATABASE_BACKUP_URL", _pg("postgres://app@db.tls.invalid/tf?sslmode=prefer"))
    assert (plain.check_id, plain.variable, plain.hosts, plain.problem) == (
        "taskforge.W301",
        "DATABASE_BACKUP_URL",
        "db.tls.invalid",
        PLAINTEXT,
    )
    assert postgres_finding("X", _pg("postgres://app@db.tls.invalid/tf?sslmode=require")).problem == UNVERIFIED
    for mode in ("verify-ca", "verify-full"):
        assert (
            postgres_finding("X", _pg(f"postgres://app@db.tls.invalid/tf?sslmode={mode}&sslrootcert={ca_file}")) is None
        )


def test_mongo_needs_tls_without_insecure_options_off_host() -> None:
    assert mongo_finding("mongodb://127.0.0.1:27017/tf") is None
    assert mongo_finding("mongodb://u:p@m1.tls.invalid:27017,m2.tls.invalid/tf?replicaSet=rs0").hosts == (
        "m1.tls.invalid,m2.tls.invalid"
    )
    assert mongo_finding("mongodb://m1.tls.invalid/tf?tls=true") is None
    assert mongo_finding("mongodb://m1.tls.invalid/tf?ssl=true") is None
    assert mongo_finding("mongodb://m1.tls.invalid/tf?tls=true&tlsInsecure=true").problem == UNVERIFIED
    assert mongo_finding("mongodb://m1.tls.invalid/tf?tls=true&tlsAllowInvalidHostnames=true").problem == UNVERIFIED
    assert mongo_finding("mongodb+srv://cluster.tls.invalid/tf") is None  # SRV: TLS unless turned off
    assert mongo_finding("mongodb+srv://cluster.tls.invalid/tf?tls=false").problem == PLAINTEXT


def test_redis_needs_rediss_with_required_certificates_off_host() -> None:
    assert redis_finding("REDIS_URL", "redis://127.0.0.1:6379/0") is None
    assert redis_finding("REDIS_URL", "unix:///run/redis.sock?db=0") is None
    assert redis_finding("REDIS_URL", "redis://:pw@cache.tls.invalid:6379/0").problem == PLAINTEXT
    assert redis_finding("REDIS_URL", "rediss://cache.tls.invalid:6380/0?ssl_cert_reqs=required") is None
    assert redis_finding("REDIS_URL", "rediss://cache.tls.invalid:6380/0?ssl_cert_reqs=none").problem == UNVERIFIED
    hostless = "rediss://cache.tls.invalid:6380/0?ssl_cert_reqs=required&ssl_check_hostname=false"
    assert redis_finding("CELERY_RESULT_BACKEND", hostless).variable == "CELERY_RESULT_BACKEND"


def test_rabbitmq_needs_amqps_with_a_verified_certificate_off_host() -> None:
    verified = {"cert_reqs": ssl.CERT_REQUIRED, "ca_certs": None, "server_hostname": None}
    assert broker_finding("amqp://guest:guest@127.0.0.1:5672//", False) is None
    assert broker_finding("amqp://tf:pw@mq.tls.invalid:5672/tf", False).problem == PLAINTEXT
    assert broker_finding("amqps://tf:pw@mq.tls.invalid:5671/tf", verified) is None
    assert broker_finding("amqps://tf:pw@mq.tls.invalid:5671/tf", True).problem == UNVERIFIED
    unverified = {**verified, "cert_reqs": ssl.CERT_NONE}
    assert broker_finding("amqps://tf:pw@mq.tls.invalid:5671/tf", unverified).problem == UNVERIFIED


def test_the_check_warns_only_in_production(settings) -> None:
    settings.DATABASE_BACKUP = _pg("postgres://taskforge_backup@db.tls.invalid:5432/tf")
    settings.MONGODB_URI = "mongodb://m1.tls.invalid:27017/tf"
    settings.REDIS_URL = "redis://cache.tls.invalid:6379/0"
    settings.CELERY_RESULT_BACKEND = "redis://cache.tls.invalid:6379/1"
    settings.CELERY_BROKER_URL = "amqp://tf:pw@mq.tls.invalid:5672/tf"
    settings.PRODUCTION = False
    assert tls_check() == []
    settings.PRODUCTION = True
    warnings = tls_check()
    assert [(w.id, w.msg) for w in warnings] == [
        ("taskforge.W301", "PostgreSQL (DATABASE_BACKUP_URL) at db.tls.invalid is reached without TLS."),
        ("taskforge.W302", "MongoDB (MONGODB_URI) at m1.tls.invalid is reached without TLS."),
        ("taskforge.W303", "Redis (REDIS_URL) at cache.tls.invalid is reached without TLS."),
        ("taskforge.W303", "Redis (CELERY_RESULT_BACKEND) at cache.tls.invalid is reached without TLS."),
        ("taskforge.W304", "RabbitMQ (CELERY_BROKER_URL) at mq.tls.invalid is reached without TLS."),
    ]
    assert all(w.hint and "TLS" in w.hint for w in warnings)


# --- settings: fail fast, and the options reach every client -----------------------------------------


def test_malformed_tls_options_stop_startup_naming_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ImproperlyConfigured, match="DATABASE_BACKUP_URL: sslmode='verify_full' must be one of"):
        env_database(
            "DATABASE_BACKUP_URL", None, environ_map={"DATABASE_BACKUP_URL": "postgres://b@h/d?sslmode=verify_full"}
        )
    missing = tmp_path / "nope.pem"
    with pytest.raises(ImproperlyConfigured, match=f"DATABASE_URL: sslrootcert={missing} is not a file"):
        env_database("DATABASE_URL", None, environ_map={"DATABASE_URL": f"postgres://a@h/d?sslrootcert={missing}"})
    with pytest.raises(ImproperlyConfigured, match="REDIS_URL: a rediss:// URL must say ssl_cert_reqs=required"):
        check_redis_url("REDIS_URL", "rediss://cache.tls.invalid:6380/0")
    with pytest.raises(ImproperlyConfigured, match="REDIS_URL: ssl_\\* options need a rediss:// URL"):
        check_redis_url("REDIS_URL", "redis://cache.tls.invalid:6379/0?ssl_cert_reqs=required")
    with pytest.raises(ImproperlyConfigured, match=f"CELERY_RESULT_BACKEND: ssl_ca_certs={missing} is not a file"):
        check_redis_url(
            "CELERY_RESULT_BACKEND", f"rediss://c.tls.invalid/1?ssl_cert_reqs=required&ssl_ca_certs={missing}"
        )


PROBE = """
import json
from django.conf import settings
from django.db import connections
from django_redis import get_redis_connection
from taskforge import pgconn
from backups.storage import pg_cli_args
from taskforge.celery import app

pool = get_redis_connection("default").connection_pool
broker = app.connection_for_write()
documents = connections["mongodb"]  # the client as the backend builds it, without connecting
mongo_client = documents.get_new_connection(documents.get_connection_params())
mongo_tls = mongo_client.options.pool_options._ssl_context  # pymongo keeps no public handle on it
params = connections["default"].get_connection_params()
print(json.dumps({
    "django": {k: params.get(k) for k in ("sslmode", "sslrootcert")},
    "backup_connect": {k: pgconn.connect_kwargs(settings.DATABASE_BACKUP).get(k) for k in ("sslmode", "sslrootcert")},
    "superuser_cli": {k: v for k, v in pg_cli_args(settings.DATABASE_SUPERUSER, "x")[1].items()
                      if k.startswith("PGSSL")},
    "mongo": {"verify_mode": int(mongo_tls.verify_mode), "check_hostname": mongo_tls.check_hostname},
    "redis": {"class": pool.connection_class.__name__,
              **{k: str(pool.connection_kwargs.get(k)) for k in ("ssl_ca_certs", "ssl_cert_reqs")}},
    "celery_results": {"class": app.backend.connparams["connection_class"].__name__,
                       "ssl_cert_reqs": int(app.backend.connparams["ssl_cert_reqs"]),
                       "ssl_ca_certs": app.backend.connparams["ssl_ca_certs"]},
    "broker": {"ssl": {k: (int(v) if k == "cert_reqs" else v) for k, v in broker.ssl.items()},
               "transport": broker.transport_cls},
}))
"""


def _probe(extra_env: dict[str, str], code: str = PROBE) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "CELERY_", "REDIS_"))}
    env.update(extra_env)
    return subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_tls_options_reach_every_client_and_production_stays_quiet(ca_file: Path) -> None:
    pg = f"sslmode=verify-full&sslrootcert={ca_file}"
    result = _probe(
        {
            **PROD_ENV,
            "DATABASE_URL": f"postgres://taskforge_app@db.tls.invalid:5432/taskforge?{pg}",
            "DATABASE_OWNER_URL": f"postgres://taskforge_owner@db.tls.invalid:5432/taskforge?{pg}",
            "DATABASE_BACKUP_URL": f"postgres://taskforge_backup@db.tls.invalid:5432/taskforge?{pg}",
            "DATABASE_SUPERUSER_URL": f"postgres://postgres@db.tls.invalid:5432/postgres?{pg}",
            "MONGODB_URI": f"mongodb://m1.tls.invalid:27017/taskforge?tls=true&tlsCAFile={ca_file}",
            "REDIS_URL": f"rediss://cache.tls.invalid:6380/0?ssl_cert_reqs=required&ssl_ca_certs={ca_file}",
            "CELERY_BROKER_URL": "amqps://tf:pw@mq.tls.invalid:5671/tf",
            "CELERY_BROKER_CA_FILE": str(ca_file),
        }
    )
    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    expected_pg = {"sslmode": "verify-full", "sslrootcert": str(ca_file)}
    assert probe["django"] == expected_pg
    assert probe["backup_connect"] == expected_pg
    assert probe["superuser_cli"] == {"PGSSLMODE": "verify-full", "PGSSLROOTCERT": str(ca_file)}
    assert probe["mongo"] == {"verify_mode": int(ssl.CERT_REQUIRED), "check_hostname": True}
    assert probe["redis"] == {"class": "SSLConnection", "ssl_ca_certs": str(ca_file), "ssl_cert_reqs": "required"}
    assert probe["celery_results"] == {
        "class": "SSLConnection",
        "ssl_cert_reqs": int(ssl.CERT_REQUIRED),
        "ssl_ca_certs": str(ca_file),
    }
    assert probe["broker"]["ssl"] == {
        "cert_reqs": int(ssl.CERT_REQUIRED),
        "ca_certs": str(ca_file),
        "server_hostname": None,  # kombu fills in the broker's host name: the name is checked
    }
    assert "reached without TLS" not in result.stderr
    assert "without verifying" not in result.stderr


def test_production_logs_a_warning_at_startup_per_store_without_tls() -> None:
    result = _probe(
        {
            **PROD_ENV,
            "DATABASE_URL": "postgres://taskforge_app@db.tls.invalid:5432/taskforge?sslmode=require",
            "MONGODB_URI": "mongodb://m1.tls.invalid:27017/taskforge",
            "REDIS_URL": "redis://cache.tls.invalid:6379/0",
            "CELERY_BROKER_URL": "amqp://tf:pw@mq.tls.invalid:5672/tf",
            "LOG_JSON": "false",
        },
        code="pass",  # start-up alone, as gunicorn or a Celery worker would
    )
    assert result.returncode == 0, result.stderr
    for line in (
        "PostgreSQL (DATABASE_URL) at db.tls.invalid is reached over TLS without verifying the server's "
        "certificate. (taskforge.W301)",
        "MongoDB (MONGODB_URI) at m1.tls.invalid is reached without TLS. (taskforge.W302)",
        "Redis (REDIS_URL) at cache.tls.invalid is reached without TLS. (taskforge.W303)",
        "Redis (CELERY_RESULT_BACKEND) at cache.tls.invalid is reached without TLS. (taskforge.W303)",
        "RabbitMQ (CELERY_BROKER_URL) at mq.tls.invalid is reached without TLS. (taskforge.W304)",
    ):
        assert line in result.stderr
    # The defaults (loopback) pass: the owner, backup and superuser URLs were left alone.
    assert "DATABASE_OWNER_URL" not in result.stderr
