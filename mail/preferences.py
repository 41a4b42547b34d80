"""A person's notification preferences, as mail (and the tasks app) need them.

The accounts app owns the profile that holds them and registers the provider in its
`AppConfig.ready()` (mail sits below accounts, so it cannot import it): a registry with
one entry, called through `preferences_for`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

CADENCES = ("immediate", "hourly", "daily", "weekly")


@dataclass(frozen=True)
class Preferences:
    """Which channels a person wants notifications on, and how often email comes."""

    email: bool
    in_app: bool
    cadence: str  # one of CADENCES


DEFAULT_PREFERENCES = Preferences(email=True, in_app=True, cadence="immediate")

Provider = Callable[[int], "Preferences | None"]
_provider: list[Provider] = []


def preferences_provider_register(provider: Provider) -> None:
    """Set the function that reads a person's preferences (None while they cannot be read)."""
    _provider[:] = [provider]


def preferences_for(user_id: int) -> Preferences | None:
    """The person's preferences; None when they cannot be read right now (defer, never guess)."""
    if not _provider:
        raise LookupError("no notification-preferences provider is registered (is the accounts app installed?)")
    return _provider[0](user_id)
