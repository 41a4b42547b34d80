"""Shared row-level-security expressions and policy classes (django-rls based).

Policies read the connection context set by taskforge/dbcontext.py. A connection
with no context has an empty user and role, so it matches no policy and sees no
protected rows.

Context roles: "" (nobody), "user" (a signed-in person: what they may see follows their
capability grants, looked up in the database by `rls_ctx_has_capability`, so a grant or a
removal applies to the next statement), "system" (trusted background work with no person:
the outbox relay, scheduled jobs, seeding) and "operator" (management commands: nothing
protected). A person's capabilities are never taken from the context itself.
"""

from __future__ import annotations

from django_rls.policies import CustomPolicy

CTX_USER_ID = "NULLIF(current_setting('rls.user_id', true), '')::bigint"
CTX_ROLE = "COALESCE(current_setting('rls.role', true), '')"
CTX_IS_SYSTEM = f"{CTX_ROLE} = 'system'"


def ctx_has_capability(capability: str) -> str:
    """SQL: does the context's person hold `capability` (site admins hold all)? The function
    is defined by accounts' migration 0006; wrap it in a scalar subquery in a policy so it is
    evaluated once per statement."""
    if not capability.replace("_", "").isalpha():
        raise ValueError(f"not a capability name: {capability!r}")
    return f"rls_ctx_has_capability('{capability}')"


# Site admins (the audit log) or the system.
CTX_IS_ADMIN = f"(SELECT {ctx_has_capability('site_admin')}) OR (SELECT {CTX_IS_SYSTEM})"


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
