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
import sys
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TEST_ID = os.environ.get("TF_TEST_ID", "main")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class DocServer:
    """A real nx-27017 process the tests can stop and start (fault tests)."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.data_dir = Path(tempfile.mkdtemp(prefix=f"tf-docs-{TEST_ID}-"))
        self.proc: subprocess.Popen[bytes] | None = None
        self.uri = f"mongodb://127.0.0.1:{self.port}/tf_{TEST_ID}"

    def start(self) -> None:
        if self.proc and self.proc.poll() is None:
            return
        exe = Path(sys.executable).with_name("nx-27017")
        log = open(self.data_dir / "server.log", "ab")
        self.proc = subprocess.Popen(
            [
                str(exe),
                "--host",
                "127.0.0.1",
                "-p",
                str(self.port),
                "--data-dir",
                str(self.data_dir / "data"),
                "--log-file",
                str(self.data_dir / "nx.log"),
                "--pid-file",
                str(self.data_dir / "nx.pid"),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"nx-27017 did not start on port {self.port}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
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


def pytest_configure(config: pytest.Config) -> None:
    DOCSERVER.start()


def pytest_unconfigure(config: pytest.Config) -> None:
    DOCSERVER.cleanup()
    for var in ("MEDIA_ROOT", "BACKUP_DIR"):
        path = os.environ.get(var, "")
        if path.startswith(tempfile.gettempdir()):
            shutil.rmtree(path, ignore_errors=True)
