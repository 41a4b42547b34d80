"""Test harness: real PostgreSQL (as the application role), Redis, RabbitMQ and a
document server of its own.

* Each run gets its own names (TF_TEST_ID, default "main"): a test database, a Redis
  key prefix and Celery queue names, so concurrent runs on one machine don't collide.
* SecantusDB is started on a free port for the run, with an empty database; fixtures can
  stop and start it. Its collections are emptied after each test (`_clean_stores`).
* The test database is created and migrated as the OWNER role, then every test runs
  as the APPLICATION role, so row-level security is in force as in production.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from taskforge.testing.plugin import DOCSERVER, ROOT, TEST_ID, DocServer


def _switch_default_user(user: str, password: str | None) -> None:
    from django.db import connections

    conn = connections["default"]
    raw = conn.connection
    if getattr(conn, "pool", None) is not None and raw is not None:
        # Close it here: returned to the pool, it is reset in a worker thread, and closing
        # the pool right after can leave it open, so the test database cannot be dropped.
        conn.connection = None
        raw.close()
    conn.close()
    if hasattr(conn, "close_pool"):
        conn.close_pool()
    conn.settings_dict["USER"] = user
    conn.settings_dict["PASSWORD"] = password or ""


def _terminate_backends(dbname: str) -> None:
    """End every other connection to the test database, so DROP DATABASE cannot meet one.

    A pooled connection given back late (a pool's reset thread, a subprocess that
    outlived its fixture) would otherwise fail the teardown with "being accessed by
    other users" after every test passed.
    """
    import psycopg
    from django.conf import settings

    su = settings.DATABASE_SUPERUSER
    try:
        with psycopg.connect(
            host=su.get("HOST") or None, port=su.get("PORT") or None, user=su["USER"],
            password=su.get("PASSWORD") or None, dbname="postgres", autocommit=True,
        ) as pg:  # fmt: skip
            pg.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                [dbname],
            )
    except psycopg.Error as exc:  # the DROP reports the real problem, if any
        sys.stderr.write(f"[conftest] could not end connections to {dbname}: {exc}\n")


@pytest.fixture(scope="session")
def django_db_setup(request, django_test_environment, django_db_blocker):
    """Create and migrate the test database as the owner; run the tests as the app role."""
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connections
    from django.test.utils import setup_databases, teardown_databases

    app_user = settings.DATABASES["default"]["USER"]
    app_password = settings.DATABASES["default"].get("PASSWORD")
    owner = settings.DATABASE_OWNER
    with django_db_blocker.unblock():
        _switch_default_user(owner["USER"], owner.get("PASSWORD"))
        db_cfg = setup_databases(verbosity=0, interactive=False, aliases={"default"}, serialized_aliases=set())
        # The run's own document server starts empty: its collections and indexes come
        # from the content models' migrations, as in production. (As the owner: the
        # post-migrate signal of django-rls touches PostgreSQL tables.)
        call_command("migrate", database="mongodb", verbosity=0, interactive=False)
        _switch_default_user(app_user, app_password)
    yield
    with django_db_blocker.unblock():
        _switch_default_user(owner["USER"], owner.get("PASSWORD"))
        _terminate_backends(connections["default"].settings_dict["NAME"])
        try:
            teardown_databases(db_cfg, verbosity=0)
        finally:
            _switch_default_user(app_user, app_password)


@pytest.fixture(scope="session")
def docserver() -> DocServer:
    return DOCSERVER


@pytest.fixture(autouse=True)
def _clean_stores(request: pytest.FixtureRequest) -> None:
    """Each test starts with empty content collections and no cached keys of this run."""
    yield
    if DOCSERVER.proc is None or DOCSERVER.proc.poll() is not None:
        DOCSERVER.start()
    from django.core.cache import cache

    from taskforge.mongo import documents_db

    with contextlib.suppress(Exception):  # a test may have left the server stopped
        db = documents_db()
        for name in db.list_collection_names():
            if name != "django_migrations":  # the content models' migration state stays
                db[name].delete_many({})
    cache.delete_pattern("*")


KEEP_TABLES = {"django_migrations", "django_content_type", "auth_permission"}


def truncate_all_as_owner() -> None:
    """Empty every table of the test database as the owner (the app role may not truncate the audit log)."""
    import psycopg
    from django.conf import settings
    from django.db import connections

    owner = settings.DATABASE_OWNER
    conn = connections["default"]
    conn.close()
    with psycopg.connect(
        host=owner.get("HOST") or None,
        port=owner.get("PORT") or None,
        user=owner["USER"],
        password=owner.get("PASSWORD") or None,
        dbname=conn.settings_dict["NAME"],
        autocommit=True,
    ) as pg:
        rows = pg.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
        tables = [name for (name,) in rows if name not in KEEP_TABLES]
        if tables:
            pg.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE")


@pytest.fixture
def committed_db(django_db_setup, django_db_blocker):
    """Real commits (for worker processes, concurrency and live servers); emptied afterwards as the owner."""
    with django_db_blocker.unblock():
        try:
            yield
        finally:
            truncate_all_as_owner()


class CeleryWorker:
    """A real `celery worker` process consuming this run's queues through RabbitMQ."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = Path(tempfile.mkdtemp(prefix=f"tf-worker-{TEST_ID}-")) / "worker.log"

    def start(self, concurrency: int = 2) -> None:
        prefix = os.environ["CELERY_QUEUE_PREFIX"]
        queues = ",".join(f"{prefix}{q}" for q in ("default", "notifications", "sync", "backups"))
        env = {**os.environ, "DJANGO_SETTINGS_PROFILE": "test"}
        from django.conf import settings

        # The worker talks to the test database, as the application role.
        env["DATABASE_URL"] = _database_url(settings.DATABASES["default"])
        argv = [sys.executable, "-m", "celery", "-A", "taskforge", "worker", "-Q", queues, "-c", str(concurrency),
                "-l", "INFO", "--without-heartbeat", "--without-gossip", "--without-mingle",
                "-n", f"tf-{TEST_ID}@%h"]  # fmt: skip
        log = open(self.log, "ab")
        self.proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.log.exists() and b"ready." in self.log.read_bytes():
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError("celery worker did not start:\n" + self.log.read_text(errors="replace")[-3000:])

    def kill(self, sig: int = 9) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc = None


def _database_url(cfg: dict) -> str:
    from urllib.parse import quote

    auth = quote(cfg["USER"]) + (f":{quote(cfg['PASSWORD'])}" if cfg.get("PASSWORD") else "")
    return f"postgres://{auth}@{cfg.get('HOST') or '127.0.0.1'}:{cfg.get('PORT') or 5432}/{cfg['NAME']}"


def purge_queues() -> None:
    from taskforge.celery import app

    with app.connection_for_write() as conn:
        for queue in app.conf.task_queues:
            with contextlib.suppress(Exception):  # a queue that does not exist yet is empty
                queue.bind(conn.default_channel).purge()


@pytest.fixture
def celery_worker_proc(committed_db):
    """A fresh worker process per test, on purged queues; stopped afterwards."""
    purge_queues()
    worker = CeleryWorker()
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()
        purge_queues()


@pytest.fixture
def make_user(db):
    """Factory: make_user(kind, email=None, password=..., **fields) -> User.

    kind is a key of taskforge.testing.personas.KIND_CAPABILITIES ("traveller", "member",
    "booking_desk", "catalogue_editor", "reports_reader", "team_creator", "staff",
    "admin"); the capabilities are granted as the system. Travellers are left unverified,
    as after registration; everyone else is verified (made by an admin or an invitation)."""
    from taskforge.testing.personas import person_create

    counter = {"n": 0}

    def factory(kind: str = "traveller", email: str | None = None, password: str = "correct-horse-battery", **extra):  # noqa: S107 - test fixture password
        counter["n"] += 1
        email = email or f"{kind}{counter['n']}-{time.monotonic_ns()}@example.com"
        return person_create(kind, email, password, **extra)

    return factory


@pytest.fixture
def people(db):
    """Every persona of taskforge.testing.personas, made (see People): the one set of people
    the apps' tests share."""
    from taskforge.testing.personas import people_create

    return people_create(f"{time.monotonic_ns()}")


class LiveServer:
    """A real gunicorn serving the site against the test database (as the app role)."""

    def __init__(self) -> None:
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.workdir = Path(tempfile.mkdtemp(prefix=f"tf-live-{TEST_ID}-"))
        self.mail_dir = self.workdir / "mail"
        self.mail_dir.mkdir()
        self.log = self.workdir / "server.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, port: int | None = None, **extra_env: str) -> None:
        import urllib.request

        from django.conf import settings

        from taskforge.testing.plugin import _free_port

        self.port = port or _free_port()
        env = {
            **os.environ,
            "DATABASE_URL": _database_url(settings.DATABASES["default"]),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            # django-environ drops the first slash of the path: three plus an absolute path.
            "EMAIL_URL": f"filemail:///{self.mail_dir}",
            "SITE_URL": self.url,
            **extra_env,
        }
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "taskforge.wsgi:application",
                "-b",
                f"127.0.0.1:{self.port}",
                "-w",
                "2",
                "-k",
                "gthread",
                "--threads",
                "4",
                "--timeout",
                "60",
                "--graceful-timeout",
                "5",
                # An access log, through the same logger class as in deploy/gunicorn.conf.py.
                "--access-logfile",
                "-",
                "--logger-class",
                "taskforge.gunicorn_log.RedactingLogger",
            ],
            cwd=ROOT,
            env=env,
            stdout=open(self.log, "ab"),
            stderr=subprocess.STDOUT,
        )
        # Generous: on a loaded machine the first answers take seconds (a 1 s client timeout
        # gave up on answers the server then logged as 200).
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=5) as response:  # noqa: S310
                    if response.status == 200:
                        return
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.2)
        raise RuntimeError("live server did not start:\n" + self.log.read_text(errors="replace")[-3000:])

    def emails(self) -> list[str]:
        """Bodies of the messages written by the file email backend, oldest first."""
        files = sorted(self.mail_dir.glob("*"), key=lambda p: p.stat().st_mtime)
        return [f.read_text(errors="replace") for f in files]

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc = None


@pytest.fixture
def live_server_proc(committed_db):
    """gunicorn on a free port against the committed test database; `.url`, `.emails()`."""
    server = LiveServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


class LiveEvents:
    """The live-events service (uvicorn, live.asgi) against the test database and this run's Redis."""

    def __init__(self) -> None:
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = Path(tempfile.mkdtemp(prefix=f"tf-events-{TEST_ID}-")) / "events.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, **extra_env: str) -> None:
        import urllib.request

        from django.conf import settings

        from taskforge.testing.plugin import _free_port

        self.port = _free_port()
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "live.settings",
            "DATABASE_URL": _database_url(settings.DATABASES["default"]),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "LIVE_RECHECK_MS": "200",
            "LIVE_HEARTBEAT_SECONDS": "1",
            **extra_env,
        }
        argv = [sys.executable, "-m", "uvicorn", "live.asgi:application", "--host", "127.0.0.1",
                "--port", str(self.port), "--lifespan", "off", "--no-access-log"]  # fmt: skip
        self.proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=open(self.log, "ab"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/events/healthz", timeout=1) as response:  # noqa: S310
                    if response.status == 200:
                        return
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.2)
        raise RuntimeError("live events service did not start:\n" + self.log.read_text(errors="replace")[-3000:])

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc = None


@pytest.fixture
def live_events_proc(committed_db):
    """The live-events service on a free port against the committed test database; `.url`."""
    service = LiveEvents()
    service.start()
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture
def browser_page():
    """A Playwright page in Debian's headless Chromium."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        context = browser.new_context()
        context.set_default_timeout(15000)
        page = context.new_page()
        try:
            yield page
        finally:
            context.close()
            browser.close()
