"""The processes of the bench stack, each started by the harness and stopped by it.

* BenchRedis: a private redis-server on its own port (memory only), so stopping it for the
  Redis fault never touches the Redis the rest of the machine uses;
* DocServer: a private SecantusDB on its own port and data directory;
* Web: gunicorn with deploy/gunicorn.conf.py (bound to a free loopback port), running
  bench.load.settings (the site plus /bench/constant/);
* Worker: `celery worker` on the bench's own queues (CELERY_QUEUE_PREFIX), as in deploy/;
* Beat: a thread playing celery beat for the frequent entries of taskforge/schedule.py
  (sync.relay_sweep and audit.seal every 5 s, notifications.email_sweep every 60 s); the
  hourly/daily entries (reports ETL, backups, digests) are left out of a benchmark.

Every process runs in its own session (start_new_session): a Ctrl-C in the terminal
reaches only the harness, which then stops them in order (Registry.stop_all, in a
`finally`). Their pids are also written to var/bench/load/run/pids.json, so
`python -m bench.load --cleanup` can stop leftovers of a harness that was SIGKILLed.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from taskforge.testing.docserver import docserver_argv, wait_for_ping

ROOT = Path(__file__).resolve().parents[2]
STATE_DIR = ROOT / "var" / "bench" / "load"
RUN_DIR = STATE_DIR / "run"
PIDS_FILE = RUN_DIR / "pids.json"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen[bytes] | None, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.3).close()
            return
        except OSError:
            if proc is not None and proc.poll() is not None:
                break
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not start on port {port}")


class Registry:
    """Every process the harness started, so all of them are stopped whatever happens."""

    def __init__(self) -> None:
        self.items: list[Managed] = []
        RUN_DIR.mkdir(parents=True, exist_ok=True)

    def add(self, item: Managed) -> Managed:
        self.items.append(item)
        return item

    def record(self) -> None:
        # pid + kernel start time: identifies the process even if the pid is reused later.
        pids = {item.name: [item.proc.pid, _start_time(item.proc.pid)] for item in self.items if item.running()}
        PIDS_FILE.write_text(json.dumps(pids))

    def stop_all(self) -> None:
        for item in reversed(self.items):
            try:
                item.stop()
            except Exception as exc:  # noqa: BLE001 - keep stopping the others
                print(f"[bench.load] could not stop {item.name}: {exc}", flush=True)
        PIDS_FILE.unlink(missing_ok=True)


def _start_time(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def cleanup_leftovers() -> int:
    """Stop the process groups recorded by a harness that died without cleaning up."""
    if not PIDS_FILE.exists():
        print("[bench.load] nothing recorded; nothing to stop")
        return 0
    for name, (pid, started) in json.loads(PIDS_FILE.read_text()).items():
        if not started or _start_time(pid) != started:
            continue  # gone, or the pid now belongs to another process
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGTERM)  # each was started as its own session leader
            print(f"[bench.load] stopped {name} (process group {pid})")
    PIDS_FILE.unlink(missing_ok=True)
    return 0


class Managed:
    name = "process"

    def __init__(self, registry: Registry, env: dict[str, str]) -> None:
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None
        self.registry = registry
        registry.add(self)

    def _popen(self, args: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        log.parent.mkdir(parents=True, exist_ok=True)
        proc = subprocess.Popen(
            args, cwd=ROOT, env=env or self.env, stdout=open(log, "ab"), stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        self.proc = proc
        self.registry.record()
        return proc

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal_group(self, sig: int) -> None:
        if self.running():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)  # type: ignore[union-attr]

    def stop(self, timeout: float = 40) -> None:
        if not self.running():
            self.proc = None
            return
        self.signal_group(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)  # type: ignore[union-attr]
        except subprocess.TimeoutExpired:
            self.signal_group(signal.SIGKILL)
            self.proc.wait(timeout=10)  # type: ignore[union-attr]
        # Children left behind in the group (a pool process) go too.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # type: ignore[union-attr]
        self.proc = None


class BenchRedis(Managed):
    name = "redis"

    def __init__(self, registry: Registry, env: dict[str, str], port: int) -> None:
        super().__init__(registry, env)
        self.port = port

    def start(self) -> None:
        self._popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(RUN_DIR), "--dbfilename", "bench-redis.rdb", "--protected-mode", "yes"],
            RUN_DIR / "redis.log",
        )  # fmt: skip
        wait_port(self.port, self.proc, "bench redis-server")

    def stop(self, timeout: float = 20) -> None:
        if self.running():
            # No save: the bench Redis is memory only, as a restarted cache would be.
            subprocess.run(["redis-cli", "-p", str(self.port), "shutdown", "nosave"], capture_output=True, timeout=10)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=timeout)  # type: ignore[union-attr]
        super().stop()

    def version(self) -> str:
        out = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout
        return next((part.split("=", 1)[1] for part in out.split() if part.startswith("v=")), out.strip())


class DocServer(Managed):
    name = "SecantusDB"

    def __init__(self, registry: Registry, env: dict[str, str], port: int, data_dir: Path) -> None:
        super().__init__(registry, env)
        self.port = port
        self.data_dir = data_dir

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._popen(docserver_argv(self.port, self.data_dir / "data"), RUN_DIR / "docs.out")
        wait_for_ping(self.port, self.proc)


class Web(Managed):
    """gunicorn -c deploy/gunicorn.conf.py; stdout (the access log) goes to a file we can read."""

    name = "gunicorn"

    def __init__(self, registry: Registry, env: dict[str, str], port: int) -> None:
        super().__init__(registry, env)
        self.port = port
        self.log = RUN_DIR / "gunicorn.log"
        self.extra: dict[str, str] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, **extra: str) -> None:
        self.extra = extra
        env = {**self.env, "GUNICORN_BIND": f"127.0.0.1:{self.port}", **extra}
        self._popen([sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py"], self.log, env)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/bench/constant/", timeout=5) as response:  # noqa: S310
                    if response.status == 200:
                        break
            except OSError:
                if not self.running():
                    break
                time.sleep(0.3)
        else:
            raise RuntimeError("gunicorn did not answer:\n" + self.log.read_text(errors="replace")[-3000:])
        if not self.running():
            raise RuntimeError("gunicorn exited:\n" + self.log.read_text(errors="replace")[-3000:])
        # Wait until every worker has booted (each imports the app on its own).
        expected = self.expected_workers()
        while time.monotonic() < deadline and len(self.workers()) < expected:
            time.sleep(0.2)

    def expected_workers(self) -> int:
        raw = self.env.get("GUNICORN_WORKERS", "").strip()
        if raw:
            return int(raw)
        cpus = max(1, len(os.sched_getaffinity(0)))
        return min(2 * cpus + 1, int(self.env.get("GUNICORN_MAX_WORKERS", "12") or 12))

    def workers(self) -> list[int]:
        """Pids of the worker processes (children of the master)."""
        if not self.running():
            return []
        pid = self.proc.pid  # type: ignore[union-attr]
        try:
            return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        except OSError:
            return []

    def log_offset(self) -> int:
        return self.log.stat().st_size if self.log.exists() else 0

    def log_since(self, offset: int, until: int | None = None) -> str:
        with open(self.log, "rb") as fh:
            fh.seek(offset)
            data = fh.read() if until is None else fh.read(max(0, until - offset))
        return data.decode(errors="replace")


def rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


class Worker(Managed):
    """`celery worker` on the bench queues, as deploy/docker-compose.yml runs it."""

    name = "celery-worker"

    def __init__(self, registry: Registry, env: dict[str, str], prefix: str) -> None:
        super().__init__(registry, env)
        self.prefix = prefix
        self.log = RUN_DIR / "worker.log"

    def start(self) -> None:
        queues = ",".join(f"{self.prefix}{q}" for q in ("default", "notifications", "sync", "backups"))
        offset = self.log.stat().st_size if self.log.exists() else 0
        self._popen(
            [sys.executable, "-m", "celery", "-A", "taskforge", "worker", "-Q", queues,
             "--concurrency", self.env.get("CELERY_WORKER_CONCURRENCY", "4"), "--hostname", "bench-load-worker@%h",
             "--loglevel", "INFO", "--without-gossip", "--without-mingle"],
            self.log,
        )  # fmt: skip
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            with open(self.log, "rb") as fh:
                fh.seek(offset)
                if b"ready." in fh.read():
                    return
            if not self.running():
                break
            time.sleep(0.3)
        raise RuntimeError("celery worker did not start:\n" + self.log.read_text(errors="replace")[-3000:])

    def kill(self) -> None:
        """SIGKILL the worker and its pool processes at once (a crash, an OOM kill)."""
        self.signal_group(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(timeout=10)
        self.proc = None


class Beat:
    """Plays celery beat for the frequent schedule entries (see the module docstring)."""

    ENTRIES = (("sync.relay_sweep", 5.0), ("audit.seal", 5.0), ("notifications.email_sweep", 60.0))

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.sent = 0
        self.errors = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="bench-beat", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        from taskforge.celery import app

        due = dict.fromkeys((name for name, _ in self.ENTRIES), 0.0)
        every = dict(self.ENTRIES)
        while not self._stop.is_set():
            now = time.monotonic()
            for name, at in due.items():
                if now >= at:
                    try:
                        app.send_task(name, expires=10 if every[name] <= 5 else None)
                        self.sent += 1
                    except Exception:  # noqa: BLE001 - broker hiccup: the next tick retries
                        self.errors += 1
                    due[name] = now + every[name]
            self._stop.wait(0.5)

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)


def describe_machine(pg_version: str, redis_version: str) -> dict[str, Any]:
    import platform

    import django
    import gunicorn

    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kib = 0
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    nx = ""
    with contextlib.suppress(Exception):
        from importlib.metadata import version

        nx = version("SecantusDB")
    return {
        "hostname": platform.node(),
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu,
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "django": django.get_version(),
        "gunicorn": gunicorn.__version__,
        "postgresql": pg_version,
        "redis": redis_version,
        "secantusdb": nx,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
