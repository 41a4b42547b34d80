"""Typed, fail-fast readers for settings taken from the environment.

Every reader names the variable in its error, so a malformed value stops start-up
with a message an operator can act on. URL parsing is delegated to django-environ.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured

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
    return config
