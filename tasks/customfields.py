"""Validation of custom-field values against a team's definitions (text, number, date, choice)."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from tasks.models import CustomFieldType, TeamCustomField

TEXT_MAX = 500


def custom_value_clean(definition: TeamCustomField, raw: Any) -> tuple[Any, str | None]:
    """(clean value or None for "empty", error message or None)."""
    if raw is None or (isinstance(raw, str) and raw.strip() == ""):
        if definition.required:
            return None, f"{definition.label} is required."
        return None, None
    kind = definition.field_type
    if kind == CustomFieldType.TEXT:
        value = str(raw).strip()
        if len(value) > TEXT_MAX:
            return None, f"{definition.label} must be at most {TEXT_MAX} characters."
        return value, None
    if kind == CustomFieldType.NUMBER:
        if isinstance(raw, bool):
            return None, f"{definition.label} must be a number."
        try:
            number = Decimal(str(raw).strip())
        except InvalidOperation:
            return None, f"{definition.label} must be a number, not {str(raw)[:40]!r}."
        if not number.is_finite() or abs(number) > Decimal("1e15"):
            return None, f"{definition.label} must be a finite number below 10^15."
        as_float = float(number)
        if not math.isfinite(as_float):
            return None, f"{definition.label} must be a finite number."
        return (int(number) if number == number.to_integral_value() else as_float), None
    if kind == CustomFieldType.DATE:
        if isinstance(raw, dt.date):
            return raw.isoformat(), None
        try:
            return dt.date.fromisoformat(str(raw).strip()).isoformat(), None
        except ValueError:
            return None, f"{definition.label} must be a date (YYYY-MM-DD), not {str(raw)[:40]!r}."
    if kind == CustomFieldType.CHOICE:
        value = str(raw).strip()
        if value not in (definition.choices or []):
            allowed = ", ".join(definition.choices or [])
            return None, f"{definition.label} must be one of: {allowed}."
        return value, None
    return None, f"{definition.label} has an unknown type."


def custom_values_clean(
    definitions: Iterable[TeamCustomField], raw: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """Validate every value; (clean values keyed by field key, errors keyed by field key)."""
    defs = {d.key: d for d in definitions}
    clean: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for key in raw:
        if key not in defs:
            errors[key] = f"{key!r} is not a custom field of this team."
    for key, definition in defs.items():
        value, error = custom_value_clean(definition, raw.get(key))
        if error:
            errors[key] = error
        elif value is not None:
            clean[key] = value
    return clean, errors


def custom_choices_parse(text: str) -> list[str]:
    """Choices typed one per line or comma-separated, trimmed, without duplicates."""
    parts = [p.strip() for chunk in (text or "").splitlines() for p in chunk.split(",")]
    seen: dict[str, None] = {}
    for part in parts:
        if part:
            seen.setdefault(part[:80], None)
    return list(seen)
