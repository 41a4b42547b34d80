"""The authentication backend: ModelBackend's sign-in, and a user loaded with its access.

Every request loads the signed-in person once; loading their capabilities and whether
they belong to a team in the same query saves two queries on every page (the nav needs
both). They are read fresh on each request, so a grant or a removal applies at once.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend

from accounts.models import User


class AccountBackend(ModelBackend):
    def get_user(self, user_id: Any) -> User | None:
        user = User.objects.with_access().filter(pk=user_id).first()
        return user if user is not None and self.user_can_authenticate(user) else None
