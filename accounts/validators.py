"""Password validators of the site (listed in settings.AUTH_PASSWORD_VALIDATORS).

One maximum length for passwords everywhere: every form that sets a password (registration,
invitation acceptance, change, reset, the admin's) runs the validators, and every form that
takes a password (sign-in, account deletion) caps its field at the same PASSWORD_MAX_LENGTH,
so no password can be set that its owner could not type in again.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError

PASSWORD_MAX_LENGTH = 256  # long passphrases are welcome; this only bounds the hasher's work
PASSWORD_TOO_LONG = f"Use at most {PASSWORD_MAX_LENGTH} characters for your password."


class MaximumLengthValidator:
    """Refuses passwords longer than PASSWORD_MAX_LENGTH."""

    def validate(self, password: str, user: Any = None) -> None:
        if len(password) > PASSWORD_MAX_LENGTH:
            raise ValidationError(PASSWORD_TOO_LONG, code="password_too_long")

    def get_help_text(self) -> str:
        return f"Your password can be at most {PASSWORD_MAX_LENGTH} characters long."
