"""A stale task edit (409): the task as someone else saved it, next to the person's unsaved
values, field by field, so they can compare and re-apply theirs on the latest version."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from taskforge.errors import ServiceError
from tasks.customfields import custom_value_clean
from tasks.models import Task, TaskPriority, TaskStatus, TeamCustomField
from tasks.services.tasks import tags_clean

EMPTY = "—"


@dataclass(frozen=True)
class FieldConflict:
    """One field whose saved value differs from the person's: `name` is the form field's."""

    name: str
    label: str
    theirs: str
    yours: str


def _text(value: Any) -> str:
    # Browsers send textarea line breaks as CRLF: "a\r\nb" and "a\nb" are the same text.
    return str(value or "").replace("\r\n", "\n").strip()


def _due(value: dt.datetime | None) -> str:
    # In the person's time zone (accounts middleware), named, as the form takes it.
    return f"{timezone.localtime(value):%Y-%m-%d %H:%M} {timezone.get_current_timezone_name()}" if value else EMPTY


def _tags(raw: Any) -> str:
    try:
        tags = tags_clean(raw)
    except ServiceError:  # the person's tags are invalid: show what they typed
        return _text(raw) or EMPTY
    return ", ".join(tags) or EMPTY


def _custom(definition: TeamCustomField, raw: Any) -> str:
    value, error = custom_value_clean(definition, raw)
    if error:
        return _text(raw) or EMPTY
    return EMPTY if value is None else str(value)


def task_edit_conflicts(
    *,
    current: Task,
    current_detail: Mapping[str, Any] | None,
    mine: Mapping[str, Any],
    members: list[dict[str, Any]],
    custom_fields: list[TeamCustomField],
) -> list[FieldConflict]:
    """The fields where the saved task (`current`, `current_detail`) and the person's values
    (`mine`, as task_update takes them) differ. Without the detail (document server down and
    no event to read it from), only the task row's fields are compared."""
    names = {m["id"]: m["name"] for m in members}
    statuses, priorities = dict(TaskStatus.choices), dict(TaskPriority.choices)

    def person(user_id: Any) -> str:
        if user_id in (None, ""):
            return "Unassigned"
        return str(names.get(int(user_id), f"a former member (#{user_id})"))

    pairs: list[tuple[str, str, str, str]] = [
        ("title", "Title", _text(current.title), _text(mine["title"])),
        ("status", "Status", str(statuses.get(current.status, current.status)),
         str(statuses.get(mine["status"], mine["status"]))),
        ("priority", "Priority", str(priorities.get(current.priority, current.priority)),
         str(priorities.get(mine["priority"], mine["priority"]))),
        ("assignee", "Assignee", person(current.assignee_id), person(mine["assignee_id"])),
        ("due_at", "Due", _due(current.due_at), _due(mine["due_at"])),
    ]  # fmt: skip
    if current_detail is not None:
        pairs.append(("description", "Description", _text(current_detail["description"]), _text(mine["description"])))
        pairs.append(("tags", "Tags", _tags(current_detail["tags"]), _tags(mine["tags"])))
        saved, yours = current_detail["custom_fields"], mine["custom_fields"] or {}
        for definition in custom_fields:
            pairs.append(
                (
                    f"cf_{definition.key}",
                    definition.label,
                    _custom(definition, saved.get(definition.key)),
                    _custom(definition, yours.get(definition.key)),
                )
            )
    return [
        FieldConflict(name=name, label=label, theirs=theirs or EMPTY, yours=yours or EMPTY)
        for name, label, theirs, yours in pairs
        if theirs != yours
    ]
