"""Template context shared by every page."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def site(request: HttpRequest) -> dict[str, object]:
    user = getattr(request, "user", None)
    role = getattr(user, "role", "") if user is not None and user.is_authenticated else ""
    return {
        "SITE_NAME": "TaskForge",
        "user_role": role,
        "is_staff_member": role in ("staff", "admin"),
        "is_admin_member": role == "admin",
        "theme": getattr(request, "theme", "system"),
        "DEBUG": settings.DEBUG,
    }
