"""PostgreSQL over TLS with certificate verification, end to end, on a throw-away cluster.

The test starts its own PostgreSQL 15 cluster (initdb + pg_ctl, in a temporary directory, on
a free loopback port; as root every server command runs as the `postgres` OS user) with
ssl=on, a server certificate signed by a CA the test creates, and a pg_hba.conf that
refuses every TCP connection that is not TLS. A success therefore proves the connection
was encrypted; the tests also read it from pg_stat_ssl. The shared cluster on 5432 is
never touched.
"""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.db import OperationalError
from django.db.utils import ConnectionHandler

from backups.storage import pg_cli_args, pg_connect
from taskforge.env import env_database
from taskforge.settings import database_settings
from taskforge.testing.tls import Authority

PG_BIN = Path(os.environ.get("TASKFORGE_PG_BIN", "/usr/lib/postgresql/15/bin"))
TEST_ID = os.environ.get("TF_TEST_ID", "main")

ENCRYPTED_SQL = "SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()"


@pytest.fixture
def unblocked(django_db_blocker: Any) -> Iterator[None]:
    """Django's backend may connect (to the throw-away cluster only; the test database is not used)."""
    with django_db_blocker.unblock():
        yield


@dataclass
class TlsCluster:
    port: int
    ca: Path
    other_ca: Path

    def url(self, *, ca: Path | None = None, sslmode: str = "verify-full", host: str = "localhost") -> str:
        return f"postgres://postgres@{host}:{self.port}/postgres?sslmode={sslmode}&sslrootcert={ca or self.ca}"

    def config(self, **kwargs: Any) -> dict[str, Any]:
        parsed = env_database("DATABASE_URL", None, environ_map={"DATABASE_URL": self.url(**kwargs)})
        assert parsed is not None
        return parsed


def _wrapper(config: dict[str, Any]) -> Any:
    """Django's database wrapper for `config`, under an alias of its own (pools are kept per alias)."""
    handler = ConnectionHandler({"default": {"ENGINE": "django.db.backends.dummy"}, "tls": config})
    return handler["tls"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run_server_command(args: list[str], base: Path, *, as_postgres: bool) -> None:
    """Run an initdb/pg_ctl command; as root, as the `postgres` OS user (initdb refuses root)."""
    kwargs: dict[str, Any] = {"user": "postgres", "group": "postgres", "extra_groups": []} if as_postgres else {}
    env = {"PATH": f"{PG_BIN}:/usr/bin:/bin", "HOME": str(base), "LC_ALL": "C"}
    result = subprocess.run(args, cwd=base, env=env, capture_output=True, text=True, timeout=60, check=False, **kwargs)
    if result.returncode != 0:
        log = (base / "server.log").read_text(errors="replace") if (base / "server.log").exists() else ""
        raise RuntimeError(f"{shlex.join(args)} failed ({result.returncode}):\n{result.stdout}{result.stderr}{log}")


@pytest.fixture(scope="module")
def tls_cluster() -> Iterator[TlsCluster]:
    as_postgres = os.geteuid() == 0
    base = Path(tempfile.mkdtemp(prefix=f"tf-pgtls-{TEST_ID}-"))
    data = base / "data"
    try:
        ca = Authority.create("TaskForge test CA")
        ca.write_cert(base / "ca.pem")
        Authority.create("Some other CA").write_cert(base / "other-ca.pem")
        ca.issue_server(base / "server.crt", base / "server.key", hosts=["localhost", "127.0.0.1"])
        if as_postgres:
            for path in [base, *base.iterdir()]:
                shutil.chown(path, "postgres", "postgres")
        base.chmod(0o700)
        _run_server_command(
            [str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync",
             "--auth-local=trust", "--auth-host=reject"],
            base, as_postgres=as_postgres,
        )  # fmt: skip
        # TCP only over TLS: a plain-text connection matches `hostnossl` and is refused.
        (data / "pg_hba.conf").write_text(
            "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostnossl all all all reject\n"
        )
        port = _free_port()
        options = (
            f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={base} -c fsync=off "
            f"-c ssl=on -c ssl_cert_file={base / 'server.crt'} -c ssl_key_file={base / 'server.key'}"
        )
        _run_server_command(
            [str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(base / "server.log"), "-w", "-t", "30",
             "-o", options, "start"],
            base, as_postgres=as_postgres,
        )  # fmt: skip
        try:
            yield TlsCluster(port=port, ca=base / "ca.pem", other_ca=base / "other-ca.pem")
        finally:
            _run_server_command(
                [str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                base,
                as_postgres=as_postgres,
            )
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_database_url_with_verify_full_is_encrypted_through_the_settings_path(
    tls_cluster: TlsCluster, unblocked: None
) -> None:
    """DATABASE_URL → env_database → database_settings (what settings.py does) → Django's backend."""
    for pool in (True, False):
        connection = _wrapper(database_settings(tls_cluster.config(), pool=pool))
        try:
            assert connection.settings_dict["OPTIONS"]["sslmode"] == "verify-full"
            with connection.cursor() as cursor:
                cursor.execute(ENCRYPTED_SQL)
                encrypted, version = cursor.fetchone()
                cursor.execute("SHOW ssl")
                assert cursor.fetchone() == ("on",)
            assert encrypted is True
            assert version.startswith("TLSv1.")
        finally:
            connection.close()
            connection.close_pool()


def test_a_server_certificate_from_another_ca_is_refused(tls_cluster: TlsCluster, unblocked: None) -> None:
    connection = _wrapper(database_settings(tls_cluster.config(ca=tls_cluster.other_ca), pool=False))
    with pytest.raises(OperationalError, match="certificate verify failed"):
        connection.ensure_connection()
    connection.close()


def test_verify_full_refuses_a_host_name_the_certificate_does_not_name(
    tls_cluster: TlsCluster, unblocked: None
) -> None:
    # libpq connects to hostaddr and checks the certificate against host: no DNS needed.
    url = tls_cluster.url(host="db.example.invalid") + "&hostaddr=127.0.0.1"
    config = env_database("DATABASE_URL", None, environ_map={"DATABASE_URL": url})
    connection = _wrapper(database_settings(config, pool=False))
    with pytest.raises(OperationalError, match='does not match host name "db.example.invalid"'):
        connection.ensure_connection()
    connection.close()


def test_plain_text_is_refused_by_the_test_cluster(tls_cluster: TlsCluster) -> None:
    """The premise of the other tests: this server admits TLS connections only."""
    with pytest.raises(psycopg.OperationalError, match="no encryption"):
        psycopg.connect(host="127.0.0.1", port=tls_cluster.port, user="postgres", dbname="postgres", sslmode="disable")


def test_backup_connections_and_pg_dump_carry_the_url_tls_options(tls_cluster: TlsCluster) -> None:
    """The backup role / superuser URLs: psycopg connections and pg_dump's environment."""
    config = tls_cluster.config()
    with pg_connect(config, "postgres") as conn:
        assert conn.execute(ENCRYPTED_SQL).fetchone()[0] is True
    args, env = pg_cli_args(config, "postgres")
    assert env["PGSSLMODE"] == "verify-full"
    dump = subprocess.run(["pg_dump", "--schema-only", *args], env=env, capture_output=True, text=True, timeout=60)
    assert dump.returncode == 0, dump.stderr
    assert "PostgreSQL database dump" in dump.stdout
    args, env = pg_cli_args(tls_cluster.config(ca=tls_cluster.other_ca), "postgres")
    refused = subprocess.run(["pg_dump", "--schema-only", *args], env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0
    assert "certificate verify failed" in refused.stderr
