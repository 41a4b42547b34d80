"""Early pytest plugin (loaded with -p before Django is set up): per-run isolation.

Each run gets its own names (TF_TEST_ID, default "main"): a test database, a Redis key
prefix, Celery queue names and a document server on a free port, so concurrent runs on
one machine don't collide. This must run before pytest-django configures Django.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

from taskforge.testing.docserver import docserver_argv, stop_docserver, wait_for_ping

ROOT = Path(__file__).resolve().parents[2]
TEST_ID = os.environ.get("TF_TEST_ID", "main")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class DocServer:
    """A real SecantusDB process (the MongoDB wire protocol over WiredTiger) that the
    tests can stop and start (fault tests). Ready means a ping answers."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.data_dir = Path(tempfile.mkdtemp(prefix=f"tf-docs-{TEST_ID}-"))
        self.proc: subprocess.Popen[bytes] | None = None
        self.uri = f"mongodb://127.0.0.1:{self.port}/tf_{TEST_ID}"

    def start(self) -> None:
        if self.proc and self.proc.poll() is None:
            return
        log = open(self.data_dir / "server.log", "ab")
        argv = docserver_argv(self.port, self.data_dir / "data")
        self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        wait_for_ping(self.port, self.proc)

    def stop(self) -> None:
        stop_docserver(self.proc)
        self.proc = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)


DOCSERVER = DocServer()


def _isolate_environment() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_PROFILE", "test")
    os.environ["DATABASE_TEST_NAME"] = f"test_taskforge_{TEST_ID}"
    os.environ["CACHE_KEY_PREFIX"] = f"tft_{TEST_ID}"
    os.environ["CELERY_QUEUE_PREFIX"] = f"tft_{TEST_ID}_"
    os.environ.setdefault("EMAIL_URL", "consolemail://")
    os.environ["MEDIA_ROOT"] = tempfile.mkdtemp(prefix=f"tf-media-{TEST_ID}-")
    os.environ["BACKUP_DIR"] = tempfile.mkdtemp(prefix=f"tf-backups-{TEST_ID}-")
    os.environ["MONGODB_URI"] = DOCSERVER.uri


_isolate_environment()


def _allow_the_document_store_in_every_test() -> None:
    """Let every test use the `mongodb` alias without listing it in `databases`.

    Listing it would turn each TestCase into a TransactionTestCase (MongoDB writes through
    Django are not transactional), which flushes PostgreSQL after every test. The document
    store is isolated differently: conftest's `_clean_stores` empties its collections after
    each test. So Django's "queries to this database are not allowed" guard is kept for
    every alias but `mongodb`.
    """
    from django.db import connections
    from django.test.testcases import SimpleTestCase, _DatabaseFailure

    add = SimpleTestCase._add_databases_failures.__func__
    remove = SimpleTestCase._remove_databases_failures.__func__

    def guarded(cls: type[SimpleTestCase]) -> list[str]:
        return [name for name, _ in cls._disallowed_connection_methods]

    def add_databases_failures(cls: type[SimpleTestCase]) -> None:
        add(cls)
        documents = connections["mongodb"]
        for name in guarded(cls):
            method = getattr(documents, name)
            if isinstance(method, _DatabaseFailure):
                setattr(documents, name, method.wrapped)

    def remove_databases_failures(cls: type[SimpleTestCase]) -> None:
        documents = connections["mongodb"]
        if cls.databases == "__all__" or "mongodb" in cls.databases:
            remove(cls)
            return
        for name in guarded(cls):  # put back what `remove` expects to unwrap
            setattr(documents, name, _DatabaseFailure(getattr(documents, name), ""))
        remove(cls)

    SimpleTestCase._add_databases_failures = classmethod(add_databases_failures)
    SimpleTestCase._remove_databases_failures = classmethod(remove_databases_failures)


def pytest_configure(config: pytest.Config) -> None:
    _allow_the_document_store_in_every_test()
    DOCSERVER.start()


def pytest_unconfigure(config: pytest.Config) -> None:
    DOCSERVER.cleanup()
    for var in ("MEDIA_ROOT", "BACKUP_DIR"):
        path = os.environ.get(var, "")
        if path.startswith(tempfile.gettempdir()):
            shutil.rmtree(path, ignore_errors=True)
