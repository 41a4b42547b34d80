"""libpq parameters for the PostgreSQL connections made outside Django's own handling.

An entry built by taskforge.env.env_database carries the URL's query options in OPTIONS
(``postgres://…/taskforge?sslmode=verify-full&sslrootcert=/etc/taskforge/pg-ca.pem``).
Django hands OPTIONS to psycopg itself; every other connection (backups and restores, the
audit chain verifier, audit retention, the reports ETL, bootstrap_db) and every
pg_dump/pg_restore run takes them from here, so a URL that asks for verified TLS is
honoured on every path, not only by the site.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# libpq connection keyword -> the environment variable the command-line tools read instead.
TLS_OPTIONS: dict[str, str] = {
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "sslcrl": "PGSSLCRL",
    "sslcrldir": "PGSSLCRLDIR",
    "sslsni": "PGSSLSNI",
    "ssl_min_protocol_version": "PGSSLMINPROTOCOLVERSION",
    "ssl_max_protocol_version": "PGSSLMAXPROTOCOLVERSION",
}
# The options that name a file (checked at start-up: taskforge.env.env_database).
TLS_FILE_OPTIONS = ("sslrootcert", "sslcert", "sslkey", "sslcrl")
SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
# The server's certificate is checked against the CA (verify-ca) and the host name (verify-full).
VERIFIED_SSLMODES = ("verify-ca", "verify-full")


def tls_options(config: Mapping[str, Any]) -> dict[str, str]:
    """The TLS options of a DATABASES-style entry (empty when its URL asked for none)."""
    options = config.get("OPTIONS") or {}
    return {key: str(options[key]) for key in TLS_OPTIONS if options.get(key) not in (None, "")}


def connect_kwargs(config: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments for psycopg.connect: host, port, user, password and the TLS options."""
    return {
        "host": config.get("HOST") or None,
        "port": config.get("PORT") or None,
        "user": config.get("USER") or None,
        "password": config.get("PASSWORD") or None,
        **tls_options(config),
    }


def cli_env(config: Mapping[str, Any]) -> dict[str, str]:
    """The TLS options as PGSSL* environment variables, for pg_dump, pg_restore and psql."""
    return {TLS_OPTIONS[key]: value for key, value in tls_options(config).items()}
