"""Shared row-level-security expressions and policy classes (django-rls based).

Policies read the connection context set by taskforge/dbcontext.py. A connection
with no context has an empty user and role, so it matches no policy and sees no
protected rows.
"""

from __future__ import annotations

from django_rls.policies import CustomPolicy

CTX_USER_ID = "NULLIF(current_setting('rls.user_id', true), '')::bigint"
CTX_ROLE = "COALESCE(current_setting('rls.role', true), '')"
CTX_IS_STAFF = f"{CTX_ROLE} IN ('staff', 'admin')"
CTX_IS_ADMIN = f"{CTX_ROLE} = 'admin'"


class InsertPolicy(CustomPolicy):
    """An INSERT policy: PostgreSQL allows only WITH CHECK on INSERT, so no USING clause."""

    def __init__(self, name: str, expression: str, **kwargs: object) -> None:
        super().__init__(name, expression, operation=self.INSERT, **kwargs)

    def get_using_expression(self) -> None:
        return None


class SelectPolicy(CustomPolicy):
    """A SELECT (or DELETE) policy: USING only."""

    def __init__(self, name: str, expression: str, operation: str = "SELECT", **kwargs: object) -> None:
        super().__init__(name, expression, operation=operation, **kwargs)

    def get_check_expression(self) -> None:
        return None
