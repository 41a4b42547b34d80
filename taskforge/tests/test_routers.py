"""Router decisions: primary for writes, replica only for lag-tolerant reads, no cross-db relations."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django_mongodb_backend.models import EmbeddedModel

from accounts.models import User
from taskforge.routers import DatabaseRouter, primary_reads, replica_reads
from tasks.models import Attachment, TaskComment

router = DatabaseRouter()


def _model(app_label: str, model_name: str = "thing") -> SimpleNamespace:
    return SimpleNamespace(_meta=SimpleNamespace(app_label=app_label, model_name=model_name))


def _obj(db: str | None) -> SimpleNamespace:
    return SimpleNamespace(_state=SimpleNamespace(db=db))


def test_without_replica_everything_reads_and_writes_default(settings) -> None:
    assert "replica" not in settings.DATABASES
    with replica_reads():
        assert router.db_for_read(User) == "default"
    assert router.db_for_write(User) == "default"


def test_replica_only_inside_replica_reads(settings) -> None:
    settings.DATABASES = {**settings.DATABASES, "replica": dict(settings.DATABASES["default"])}
    assert router.db_for_read(User) == "default"
    with replica_reads():
        assert router.db_for_read(User) == "replica"
        assert router.db_for_write(User) == "default"
        with primary_reads():
            assert router.db_for_read(User) == "default"


def test_reports_models_go_to_reports_when_configured(settings) -> None:
    assert router.db_for_read(_model("reports")) == "default"
    settings.DATABASES = {**settings.DATABASES, "reports": dict(settings.DATABASES["default"])}
    assert router.db_for_read(_model("reports")) == "reports"
    assert router.db_for_write(_model("reports")) == "reports"
    assert router.allow_migrate("reports", "reports") is True
    assert router.allow_migrate("default", "reports") is False


@pytest.mark.parametrize(
    ("a", "b", "allowed"),
    [
        ("default", "default", True),
        ("default", "replica", True),
        (None, "default", True),
        ("default", "reports", False),
    ],
)
def test_relations_across_databases_are_refused(a: str, b: str, allowed: bool) -> None:
    assert router.allow_relation(_obj(a), _obj(b)) is allowed


def test_nothing_migrates_on_the_replica() -> None:
    assert router.allow_migrate("replica", "accounts") is False
    assert router.allow_migrate("default", "accounts") is True


def test_content_models_live_in_mongodb_and_migrate_only_there(monkeypatch) -> None:
    monkeypatch.setattr("taskforge.routers.CONTENT_MODELS", frozenset({"tasks.note"}))
    note = _model("tasks", "note")
    assert router.db_for_read(note) == "mongodb"
    assert router.db_for_write(note) == "mongodb"
    assert router.db_for_write(_model("tasks", "task")) == "default"
    assert router.allow_migrate("mongodb", "tasks", "note") is True
    assert router.allow_migrate("default", "tasks", "note") is False
    assert router.allow_migrate("mongodb", "tasks", "task") is False


def test_postgresql_migration_operations_never_run_on_mongodb() -> None:
    # RunSQL and RunPython name no model: they belong to PostgreSQL.
    assert router.allow_migrate("mongodb", "tasks") is False
    assert router.allow_migrate("default", "tasks") is True


def test_relations_across_stores_are_refused() -> None:
    assert router.allow_relation(_obj("default"), _obj("mongodb")) is False
    assert router.allow_relation(_obj("mongodb"), _obj("mongodb")) is True


def test_embedded_models_get_no_collection_of_their_own() -> None:
    # as a migration asks: a historical model, which has lost its EmbeddedModel base
    historical = type("Attachment", (), {})
    assert router.allow_migrate("mongodb", "tasks", "attachment", model=historical) is False
    assert router.allow_migrate("default", "tasks", "attachment", model=historical) is False
    assert issubclass(Attachment, EmbeddedModel)
    assert router.allow_migrate("mongodb", "tasks", "taskcomment", model=TaskComment) is True
