"""Database router: the one place that decides where a model lives.

* content models (CONTENT_MODELS) live in MongoDB, on the `mongodb` alias, and migrate
  only there; nothing else does;
* relational models live in PostgreSQL: writes always go to `default` (the primary);
* reads go to `default` unless the caller opted into lag-tolerant reads with
  `replica_reads()` and a `replica` alias is configured;
* analytics models (app label `reports`) use the `reports` alias when configured;
* relations across stores (and across databases) are refused: a content model refers
  to a row by its id in a plain integer field, never by a ForeignKey.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.apps import apps
from django.conf import settings
from django_mongodb_backend.models import EmbeddedModel

_replica_ok: ContextVar[bool] = ContextVar("taskforge_replica_ok", default=False)
REPORTS_APP_LABELS = frozenset({"reports"})
DOCUMENTS = "mongodb"
# "app_label.model_name" of every model stored in MongoDB, embedded models included.
CONTENT_MODELS: frozenset[str] = frozenset(
    {
        "accounts.profile",
        "accounts.profilepreferences",
        "accounts.notificationchannels",
        "bookings.itineraryday",
        "bookings.tripcontent",
        # tasks/models/content.py
        "tasks.attachment",
        "tasks.taskdetail",
        "tasks.taskcomment",
        "tasks.notification",
    }
)


@contextmanager
def replica_reads() -> Iterator[None]:
    """Mark a block whose reads tolerate replication lag (catalogue lists, reports)."""
    token = _replica_ok.set(True)
    try:
        yield
    finally:
        _replica_ok.reset(token)


@contextmanager
def primary_reads() -> Iterator[None]:
    """Force reads to the primary, e.g. the page shown right after a write."""
    token = _replica_ok.set(False)
    try:
        yield
    finally:
        _replica_ok.reset(token)


def _configured(alias: str) -> bool:
    return alias in settings.DATABASES


def is_content_model(app_label: str, model_name: str | None) -> bool:
    return f"{app_label}.{model_name}" in CONTENT_MODELS


def _is_embedded(app_label: str, model_name: str | None) -> bool:
    try:
        model = apps.get_model(app_label, model_name) if model_name else None
    except LookupError:
        return False
    return model is not None and issubclass(model, EmbeddedModel)


def _database_of(model: Any) -> str:
    if is_content_model(model._meta.app_label, model._meta.model_name):
        return DOCUMENTS
    if model._meta.app_label in REPORTS_APP_LABELS and _configured("reports"):
        return "reports"
    return "default"


class DatabaseRouter:
    """Routes by model and by the caller's read-consistency needs."""

    def db_for_read(self, model: Any, **hints: Any) -> str:
        home = _database_of(model)
        if home == "default" and _replica_ok.get() and _configured("replica"):
            return "replica"
        return home

    def db_for_write(self, model: Any, **hints: Any) -> str:
        return _database_of(model)

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool | None:
        # `replica` mirrors `default`, so objects read from either are one database.
        def group(alias: str | None) -> str:
            return "default" if alias in (None, "default", "replica") else alias

        return group(obj1._state.db) == group(obj2._state.db)

    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None, **hints: Any) -> bool:
        if db == DOCUMENTS or is_content_model(app_label, model_name):
            # RunSQL/RunPython (no model name) belong to PostgreSQL unless they name a model.
            # An embedded model lives inside its parent's documents: no collection of its own.
            # (Looked up in the app registry: a migration's historical model loses its bases.)
            if _is_embedded(app_label, model_name):
                return False
            return db == DOCUMENTS and is_content_model(app_label, model_name)
        if db == "replica":
            return False  # a physical standby follows the primary's schema
        if app_label in REPORTS_APP_LABELS:
            return db == ("reports" if _configured("reports") else "default")
        return db == "default"
