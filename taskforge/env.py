"""Typed, fail-fast readers for settings taken from the environment.

Every reader names the variable in its error, so a malformed value stops start-up
with a message an operator can act on. URL parsing is delegated to django-environ.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

from taskforge.pgconn import SSLMODES, TLS_FILE_OPTIONS

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _raw(name: str, environ_map: Mapping[str, str] | None) -> str | None:
    source = os.environ if environ_map is None else environ_map
    return source.get(name)


def env_str(name: str, default: str, *, environ_map: Mapping[str, str] | None = None) -> str:
    value = _raw(name, environ_map)
    return default if value is None else value


def env_required(name: str, *, environ_map: Mapping[str, str] | None = None) -> str:
    value = _raw(name, environ_map)
    if not value:
        raise ImproperlyConfigured(f"{name} must be set (it has no safe default).")
    return value


def env_bool(name: str, default: bool, *, environ_map: Mapping[str, str] | None = None) -> bool:
    value = _raw(name, environ_map)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean (use true/false, 1/0, yes/no, on/off).")


def env_int(
    name: str,
    default: int,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    environ_map: Mapping[str, str] | None = None,
) -> int:
    value = _raw(name, environ_map)
    if value is None or value.strip() == "":
        result = default
    else:
        try:
            result = int(value.strip())
        except ValueError:
            raise ImproperlyConfigured(f"{name}={value!r} is not a whole number.") from None
    if minimum is not None and result < minimum:
        raise ImproperlyConfigured(f"{name}={result} is below the minimum of {minimum}.")
    if maximum is not None and result > maximum:
        raise ImproperlyConfigured(f"{name}={result} is above the maximum of {maximum}.")
    return result


def env_list(name: str, default: list[str], *, environ_map: Mapping[str, str] | None = None) -> list[str]:
    value = _raw(name, environ_map)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def env_choice(
    name: str, default: str, choices: tuple[str, ...], *, environ_map: Mapping[str, str] | None = None
) -> str:
    value = env_str(name, default, environ_map=environ_map)
    if value not in choices:
        raise ImproperlyConfigured(f"{name}={value!r} must be one of: {', '.join(choices)}.")
    return value


def env_url(name: str, default: str, schemes: tuple[str, ...], *, environ_map: Mapping[str, str] | None = None) -> str:
    value = env_str(name, default, environ_map=environ_map)
    scheme, sep, rest = value.partition("://")
    if not sep or scheme not in schemes or not rest:
        raise ImproperlyConfigured(f"{name}={value!r} must be a URL starting with one of: {', '.join(schemes)}://")
    return value


def env_database(
    name: str, default: str | None, *, environ_map: Mapping[str, str] | None = None
) -> dict[str, Any] | None:
    """Parse a postgres:// URL into a Django DATABASES entry (None when unset and no default)."""
    value = _raw(name, environ_map)
    if value is None:
        value = default
    if not value:
        return None
    if not value.startswith(("postgres://", "postgresql://")):
        raise ImproperlyConfigured(f"{name}={value!r} must be a postgres:// URL.")
    try:
        config = environ.Env.db_url_config(value)
    except Exception as exc:  # noqa: BLE001 - django-environ raises several types; all become ImproperlyConfigured
        raise ImproperlyConfigured(f"{name} is not a valid database URL: {exc}") from None
    if not config.get("NAME"):
        raise ImproperlyConfigured(f"{name}={value!r} names no database.")
    options = config.get("OPTIONS") or {}
    sslmode = options.get("sslmode")
    if sslmode is not None and sslmode not in SSLMODES:
        raise ImproperlyConfigured(f"{name}: sslmode={sslmode!r} must be one of: {', '.join(SSLMODES)}.")
    require_url_files(name, {k: str(v) for k, v in options.items()}, TLS_FILE_OPTIONS)
    return config


def url_query(url: str) -> dict[str, str]:
    """A URL's query parameters (the last value of a repeated one wins)."""
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


def require_url_files(name: str, query: Mapping[str, str], keys: Iterable[str]) -> None:
    """Fail fast when a URL option names a file (a CA bundle, a client certificate) that is not there.

    Keys match case-insensitively (MongoDB's URI options are case-insensitive). libpq's
    `sslrootcert=system` names the system trust store, not a file.
    """
    wanted = {key.lower() for key in keys}
    for key, value in query.items():
        if key.lower() in wanted and value and value != "system" and not Path(value).is_file():
            raise ImproperlyConfigured(f"{name}: {key}={value} is not a file.")


REDIS_TLS_FILE_OPTIONS = ("ssl_ca_certs", "ssl_certfile", "ssl_keyfile")


def check_redis_url(name: str, url: str) -> None:
    """A redis URL's TLS options must be coherent, for redis-py (django-redis) and Celery alike.

    Celery refuses a rediss:// URL that does not say ssl_cert_reqs; redis-py ignores TLS
    options on a plain redis:// URL. Both are stopped here, naming the variable.
    """
    scheme = url.partition("://")[0]
    query = url_query(url)
    if scheme == "rediss" and "ssl_cert_reqs" not in query:
        raise ImproperlyConfigured(
            f"{name}: a rediss:// URL must say ssl_cert_reqs=required "
            "(with ssl_ca_certs=/path/to/ca.pem for a private CA)."
        )
    if scheme != "rediss" and any(key.startswith("ssl_") for key in query):
        raise ImproperlyConfigured(f"{name}: ssl_* options need a rediss:// URL.")
    require_url_files(name, query, REDIS_TLS_FILE_OPTIONS)
