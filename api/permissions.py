"""Who may call an endpoint at all (what they may do to an object is the services' business)."""

from __future__ import annotations

from typing import Any

from rest_framework import permissions
from rest_framework.request import Request

from accounts.models import ApiToken

READ_ONLY_REFUSAL = "This token is read-only; create a read-write token to make changes."


class TokenScope(permissions.BasePermission):
    """A read token may only read (GET, HEAD, OPTIONS)."""

    message = READ_ONLY_REFUSAL

    def has_permission(self, request: Request, view: Any) -> bool:
        if request.method in permissions.SAFE_METHODS:
            return True
        return not isinstance(request.auth, ApiToken) or request.auth.can_write


class SignedIn(permissions.BasePermission):
    """A signed-in person (token or session): anonymous callers get 401."""

    message = "Sign in: send a personal access token as `Authorization: Bearer <token>`."

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(request.user and request.user.is_authenticated)


class Anyone(permissions.BasePermission):
    """Public endpoints (the trip catalogue)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return True
