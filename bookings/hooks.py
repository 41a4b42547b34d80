"""Registries the apps above bookings fill in their `AppConfig.ready()` (bookings never
imports them): what happens, inside the same transaction, when a departure is cancelled,
and extra links each departure shows on the staff departures page."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from bookings.models import Departure


@dataclass(frozen=True)
class StaffLink:
    """A link shown next to a departure on the staff page (label and URL)."""

    label: str
    url: str


DepartureCancelledHook = Callable[[Departure], None]
DepartureLinks = Callable[[Any, list[int]], dict[int, list[StaffLink]]]
_CANCELLED: list[DepartureCancelledHook] = []
_LINKS: list[DepartureLinks] = []


def departure_cancelled_subscribe(func: DepartureCancelledHook) -> DepartureCancelledHook:
    """Called inside `departure_cancel`'s transaction with the cancelled departure: record what
    you need there (an outbox event); no I/O, no refusals."""
    if func not in _CANCELLED:
        _CANCELLED.append(func)
    return func


def departure_cancelled_run(departure: Departure) -> None:
    for func in _CANCELLED:
        func(departure)


def departure_links_register(func: DepartureLinks) -> DepartureLinks:
    """`func(user, departure_ids) -> {departure_id: [StaffLink, ...]}` for the staff page."""
    if func not in _LINKS:
        _LINKS.append(func)
    return func


def departure_links(user: Any, departure_ids: Iterable[int]) -> dict[int, list[StaffLink]]:
    ids = list(departure_ids)
    out: dict[int, list[StaffLink]] = {i: [] for i in ids}
    for func in _LINKS:
        for departure_id, links in func(user, ids).items():
            out.setdefault(departure_id, []).extend(links)
    return out
