"""Django admin registrations of the platform app (each module registers its own models)."""

from taskforge import admin_ops, admin_outbox  # noqa: F401
