"""Registry the apps above tasks fill in their `AppConfig.ready()` (tasks never imports
them): links a task page shows for what the task was made for (e.g. a departure's
checklist item links to the departure and its bookings)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tasks.models import Task


@dataclass(frozen=True)
class TaskLink:
    """A link on the task page (label and URL)."""

    label: str
    url: str


TaskLinks = Callable[[Any, Task], list[TaskLink]]
_LINKS: list[TaskLinks] = []


def task_links_register(func: TaskLinks) -> TaskLinks:
    """`func(user, task) -> [TaskLink, ...]`: only links this person may follow."""
    if func not in _LINKS:
        _LINKS.append(func)
    return func


def task_links(user: Any, task: Task) -> list[TaskLink]:
    return [link for func in _LINKS for link in func(user, task)]
