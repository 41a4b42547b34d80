"""Side-by-side view of an audit row's old and new values."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

MISSING = object()


@dataclass(frozen=True)
class DiffRow:
    """One field: its value before and after, and whether it changed."""

    field: str
    old: str
    new: str
    changed: bool


def _show(value: Any) -> str:
    if value is MISSING:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _all_rows(old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[DiffRow]:
    old = old if isinstance(old, dict) else ({} if old is None else {"value": old})
    new = new if isinstance(new, dict) else ({} if new is None else {"value": new})
    both = bool(old) and bool(new)
    keys = list(old) + [key for key in new if key not in old]
    rows = []
    for key in keys:
        before, after = old.get(key, MISSING), new.get(key, MISSING)
        rows.append(DiffRow(key, _show(before), _show(after), both and before != after))
    return rows


def diff_rows(old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[DiffRow]:
    """The fields worth reading, in a stable order: for an update only the changed ones
    (an unchanged field is noise next to the change); for an insert or a delete every
    field, each simply on one side."""
    rows = _all_rows(old, new)
    if old and new:
        return [row for row in rows if row.changed]
    return rows


def unchanged_count(old: dict[str, Any] | None, new: dict[str, Any] | None) -> int:
    """How many fields an update left as they were (0 for an insert or a delete)."""
    if not (old and new):
        return 0
    return sum(1 for row in _all_rows(old, new) if not row.changed)


def changed_fields(old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[str]:
    """The fields an entry touched: the changed ones for an update, all of them otherwise."""
    return [row.field for row in diff_rows(old, new)]
