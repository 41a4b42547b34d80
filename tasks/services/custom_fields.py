"""Writes of a team's custom-field definitions, and the check of a task's custom values."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from django.db import transaction

from accounts.models import Team
from accounts.permissions import permission_has, permission_require
from taskforge.errors import NotFound, ServiceError
from tasks.customfields import custom_choices_parse, custom_values_clean
from tasks.models import CustomFieldType, TeamCustomField


def custom_values_check(team_id: int, raw: Mapping[str, Any] | None) -> dict[str, Any]:
    """A task's custom-field values, typed by the team's definitions; refused per field (cf_<key>)."""
    definitions = list(TeamCustomField.objects.filter(team_id=team_id))
    clean, errors = custom_values_clean(definitions, raw or {})
    if errors:
        raise ServiceError(
            "Some custom fields are not valid.", errors={f"cf_{key}": message for key, message in errors.items()}
        )
    return clean


def custom_field_save(
    *,
    actor: Any,
    team_id: int,
    key: str,
    label: str,
    field_type: str,
    choices: Any = "",
    required: bool = False,
    field_id: int | None = None,
) -> TeamCustomField:
    """Create or change one of the team's custom-field definitions (team admins: team.manage)."""
    if not Team.objects.filter(id=team_id).exists() or not permission_has(actor, team_id, "task.view"):
        raise NotFound("No such team.")
    permission_require(actor, team_id, "team.manage")
    errors: dict[str, str] = {}
    key = (key or "").strip().lower()
    label = (label or "").strip()
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,39}", key):
        errors["key"] = "Use a short key: lower-case letters, digits and _, starting with a letter."
    if not label or len(label) > 80:
        errors["label"] = "A label of at most 80 characters is required."
    if field_type not in CustomFieldType.values:
        errors["field_type"] = "Choose text, number, date or choice."
    choice_list = custom_choices_parse(choices) if isinstance(choices, str) else [str(c) for c in choices or []]
    if field_type == CustomFieldType.CHOICE and not choice_list:
        errors["choices"] = "A choice field needs at least one choice."
    if errors:
        raise ServiceError("Please correct the custom field.", errors=errors)
    with transaction.atomic():
        duplicate = TeamCustomField.objects.filter(team_id=team_id, key=key)
        if field_id is not None:
            duplicate = duplicate.exclude(id=field_id)
        if duplicate.exists():
            raise ServiceError("That key is taken.", errors={"key": "Another field of this team uses that key."})
        if field_id is None:
            position = TeamCustomField.objects.filter(team_id=team_id).count()
            field = TeamCustomField.objects.create(
                team_id=team_id,
                key=key,
                label=label,
                field_type=field_type,
                choices=choice_list if field_type == CustomFieldType.CHOICE else [],
                required=bool(required),
                position=position,
            )
        else:
            field = TeamCustomField.objects.filter(team_id=team_id, id=field_id).first()
            if field is None:
                raise NotFound("No such custom field.")
            field.key, field.label, field.field_type, field.required = key, label, field_type, bool(required)
            field.choices = choice_list if field_type == CustomFieldType.CHOICE else []
            field.save(update_fields=["key", "label", "field_type", "choices", "required"])
    return field


def custom_field_delete(*, actor: Any, team_id: int, field_id: int) -> None:
    if not permission_has(actor, team_id, "task.view"):
        raise NotFound("No such team.")
    permission_require(actor, team_id, "team.manage")
    with transaction.atomic():
        deleted, _ = TeamCustomField.objects.filter(team_id=team_id, id=field_id).delete()
        if not deleted:
            raise NotFound("No such custom field.")
