"""Template tags for the admin dashboard: the state of the backups."""

from __future__ import annotations

from typing import Any

from django import template

from backups.verify import last_verification

register = template.Library()


@register.inclusion_tag("admin/partials/backup_status.html")
def backup_status() -> dict[str, Any]:
    try:
        return last_verification()
    except Exception:  # noqa: BLE001 - the dashboard must render even if this query fails
        return {"error": True}
