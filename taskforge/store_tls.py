"""Which stores the site reaches without verified TLS: the production start-up warning.

A store on loopback or a Unix socket never leaves the host. One anywhere else should be
reached over TLS with the server's certificate verified (README, "TLS to the stores"):
PostgreSQL with sslmode=verify-full (or verify-ca), MongoDB with tls=true, Redis with
rediss:// and ssl_cert_reqs=required, RabbitMQ with amqps://. In production each gap is a
system check warning (taskforge.W301-W304, `manage.py check`) and is logged when a process
starts (TaskforgeConfig.ready), since gunicorn and Celery run no system checks.
Nothing here connects anywhere: it reads the settings.
"""

from __future__ import annotations

import ipaddress
import logging
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.core import checks

from taskforge.env import url_query
from taskforge.pgconn import VERIFIED_SSLMODES, tls_options

logger = logging.getLogger(__name__)

PLAINTEXT = "without TLS"
UNVERIFIED = "over TLS without verifying the server's certificate"
_FALSE = ("false", "0", "no", "off")
_TRUE = ("true", "1", "yes", "on")


@dataclass(frozen=True)
class Finding:
    """One store reached from this host in a way an eavesdropper on the network could read or fake."""

    check_id: str
    store: str
    variable: str
    hosts: str
    problem: str

    @property
    def message(self) -> str:
        return f"{self.store} ({self.variable}) at {self.hosts} is reached {self.problem}."


def is_local(host: str) -> bool:
    """Loopback or a Unix socket (an empty host is libpq's default socket)."""
    host = unquote(host).strip()
    if not host or host.startswith("/") or host.startswith("@"):
        return True
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _remote(hosts: list[str]) -> str:
    """The non-local hosts among `hosts`, comma-separated ('' when all are local)."""
    return ",".join(h for h in hosts if not is_local(h))


def _url_hosts(netloc: str) -> list[str]:
    """Host names of a URL's netloc, ports and credentials removed; several for a replica set."""
    hosts = []
    for part in netloc.rpartition("@")[2].split(","):
        part = part.strip()
        if part.startswith("["):
            hosts.append(part[1 : part.find("]")])
        else:
            hosts.append(part.rsplit(":", 1)[0] if part.count(":") == 1 else part)
    return hosts


def postgres_finding(variable: str, config: Mapping[str, Any]) -> Finding | None:
    remote = _remote(str(config.get("HOST") or "").split(","))
    if not remote:
        return None
    sslmode = tls_options(config).get("sslmode", "prefer")
    if sslmode in VERIFIED_SSLMODES:
        return None
    # libpq's default ("prefer") falls back to plain text, and "require" verifies nothing.
    problem = UNVERIFIED if sslmode == "require" else PLAINTEXT
    return Finding("taskforge.W301", "PostgreSQL", variable, remote, problem)


def mongo_finding(uri: str) -> Finding | None:
    scheme, _, rest = uri.partition("://")
    remote = _remote(_url_hosts(rest.split("/", 1)[0].split("?", 1)[0]))
    if not remote:
        return None
    options = {key.lower(): value.lower() for key, value in url_query(uri).items()}
    # mongodb+srv turns TLS on unless the URI turns it off.
    tls = options.get("tls", options.get("ssl", "true" if scheme == "mongodb+srv" else "false"))
    if tls not in _TRUE:
        return Finding("taskforge.W302", "MongoDB", "MONGODB_URI", remote, PLAINTEXT)
    insecure = ("tlsinsecure", "tlsallowinvalidcertificates", "tlsallowinvalidhostnames")
    if any(options.get(key) in _TRUE for key in insecure):
        return Finding("taskforge.W302", "MongoDB", "MONGODB_URI", remote, UNVERIFIED)
    return None


def redis_finding(variable: str, url: str) -> Finding | None:
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return None
    remote = _remote([parts.hostname or ""])
    if not remote:
        return None
    if parts.scheme != "rediss":
        return Finding("taskforge.W303", "Redis", variable, remote, PLAINTEXT)
    options = {key: value.lower() for key, value in url_query(url).items()}
    if options.get("ssl_cert_reqs", "required") not in ("required", "cert_required") or (
        options.get("ssl_check_hostname") in _FALSE
    ):
        return Finding("taskforge.W303", "Redis", variable, remote, UNVERIFIED)
    return None


def broker_finding(url: str, use_ssl: Mapping[str, Any] | bool) -> Finding | None:
    hosts: list[str] = []
    schemes = set()
    for one in url.split(";"):
        parts = urlsplit(one.strip())
        schemes.add(parts.scheme)
        hosts.append(parts.hostname or "")
    remote = _remote(hosts)
    if not remote:
        return None
    if schemes != {"amqps"} and not use_ssl:
        return Finding("taskforge.W304", "RabbitMQ", "CELERY_BROKER_URL", remote, PLAINTEXT)
    # Verified: the certificate is required, and server_hostname is there for kombu to fill in.
    options = use_ssl if isinstance(use_ssl, Mapping) else {}
    if options.get("cert_reqs") != ssl.CERT_REQUIRED or "server_hostname" not in options:
        return Finding("taskforge.W304", "RabbitMQ", "CELERY_BROKER_URL", remote, UNVERIFIED)
    return None


def store_findings() -> list[Finding]:
    """Every store connection in the settings that leaves the host without verified TLS."""
    databases = [("DATABASE_REPLICA_URL", "replica"), ("DATABASE_REPORTS_URL", "reports")]
    if settings.DJANGO_DB_ROLE == "app":  # as the owner, `default` is DATABASE_OWNER_URL (below)
        databases.insert(0, ("DATABASE_URL", "default"))
    postgres = [(variable, settings.DATABASES[alias]) for variable, alias in databases if alias in settings.DATABASES]
    postgres += [
        ("DATABASE_OWNER_URL", settings.DATABASE_OWNER),
        ("DATABASE_BACKUP_URL", settings.DATABASE_BACKUP),
        ("DATABASE_SUPERUSER_URL", settings.DATABASE_SUPERUSER),
    ]
    found = [postgres_finding(variable, config) for variable, config in postgres]
    found.append(mongo_finding(settings.MONGODB_URI))
    found.append(redis_finding("REDIS_URL", settings.REDIS_URL))
    if settings.CELERY_RESULT_BACKEND.startswith(("redis://", "rediss://")):
        found.append(redis_finding("CELERY_RESULT_BACKEND", settings.CELERY_RESULT_BACKEND))
    found.append(broker_finding(settings.CELERY_BROKER_URL, settings.CELERY_BROKER_USE_SSL))
    return [finding for finding in found if finding is not None]


def tls_check(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """System check (production only): a store reached off-host without verified TLS."""
    if not settings.PRODUCTION:
        return []
    return [
        checks.Warning(
            finding.message,
            hint="Use TLS with certificate verification for every store off this host "
            "(README, Configuration: TLS to the stores).",
            id=finding.check_id,
        )
        for finding in store_findings()
    ]


def log_store_findings() -> None:
    """At process start in production: one warning per store reached off-host without verified TLS."""
    for warning in tls_check():
        logger.warning("%s (%s)", warning.msg, warning.id)
