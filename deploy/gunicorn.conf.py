"""Gunicorn configuration for TaskForge: `gunicorn -c deploy/gunicorn.conf.py`.

A plain config file read from the environment (compose sets the variables in the
`web` service, systemd through EnvironmentFile). A malformed value stops start-up with
a message naming the variable, like the Django settings do.

Workers: GUNICORN_WORKERS, or 2 x usable CPUs + 1, capped at GUNICORN_MAX_WORKERS
(each worker holds its own database pool, so the cap also bounds PostgreSQL
connections: workers x DB_POOL_MAX per host). Worker class gthread: a worker's threads
share its pool, and a slow request or an open notification stream (SSE) occupies one
thread, not a whole process.
"""

from __future__ import annotations

import glob
import os
from typing import Any


def _int(name: str, default: int, *, minimum: int = 0, maximum: int | None = None) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SystemExit(f"gunicorn.conf.py: {name}={raw!r} is not an integer") from None
    if value < minimum or (maximum is not None and value > maximum):
        bounds = f">= {minimum}" + (f" and <= {maximum}" if maximum is not None else "")
        raise SystemExit(f"gunicorn.conf.py: {name}={value} must be {bounds}")
    return value


def _usable_cpus() -> int:
    # The CPUs this process may run on (cgroup/cpuset aware), not the host's total.
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


wsgi_app = "taskforge.wsgi:application"
bind = [part.strip() for part in os.environ.get("GUNICORN_BIND", "127.0.0.1:8000").split(",") if part.strip()]

_max_workers = _int("GUNICORN_MAX_WORKERS", 12, minimum=1)
workers = _int("GUNICORN_WORKERS", min(2 * _usable_cpus() + 1, _max_workers), minimum=1)
worker_class = "gthread"
threads = _int("GUNICORN_THREADS", 4, minimum=1, maximum=64)
backlog = _int("GUNICORN_BACKLOG", 2048, minimum=64)

# A request that runs longer than this is killed and logged (the worker is restarted).
timeout = _int("GUNICORN_TIMEOUT", 30, minimum=5)
# On SIGTERM/restart, in-flight requests get this long to finish.
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30, minimum=1)
# Idle keep-alive towards nginx (its upstream keepalive reuses connections).
keepalive = _int("GUNICORN_KEEPALIVE", 5, minimum=1)
# Recycle workers now and then so slow leaks cannot grow without bound.
max_requests = _int("GUNICORN_MAX_REQUESTS", 2000, minimum=0)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 200, minimum=0)

# Heartbeat files on tmpfs: a disk-backed /tmp can stall workers (gunicorn docs). Gunicorn
# creates them itself with mkstemp, so a shared tmpfs is fine.
_tmp = os.environ.get("GUNICORN_WORKER_TMP_DIR", "/dev/shm")  # noqa: S108
worker_tmp_dir = _tmp if os.path.isdir(_tmp) else None

# nginx is the only client. It sets X-Forwarded-Proto; trust it only from these addresses
# (compose: the nginx container's network, so "*" there; systemd: loopback).
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# Reject oversized request lines/headers early (bodies are limited by nginx: 12m).
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190

# Control socket for `gunicornc` (worker counts, graceful reload): in systemd's
# RuntimeDirectory when there is one, else only if GUNICORN_CONTROL_SOCKET names a path.
_control = os.environ.get("GUNICORN_CONTROL_SOCKET", "").strip()
if not _control and os.environ.get("RUNTIME_DIRECTORY"):
    _control = os.path.join(os.environ["RUNTIME_DIRECTORY"].split(":")[0], "gunicorn.ctl")
if _control:
    control_socket = _control
else:
    control_socket_disable = True

# --- logging: everything to stdout/stderr, collected by docker or journald ------------------
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "INFO").strip().lower() or "info"
if loglevel not in {"debug", "info", "warning", "error", "critical"}:
    raise SystemExit(f"gunicorn.conf.py: LOG_LEVEL={loglevel!r} is not a log level")
# One line per request: client, request line, status, bytes, referrer, user agent, the
# request id nginx sent (the same id Django logs and echoes) and the response time.
access_log_format = (
    '%(h)s "%(r)s" %(s)s %(B)s "%(f)s" "%(a)s" request_id=%({x-request-id}i)s duration_ms=%(M)s pid=%(p)s'
)
proc_name = "taskforge-web"
# Both logs without the one-time tokens of verification, reset and invitation links
# (they are in request lines, Referers and error messages).
logger_class = "taskforge.gunicorn_log.RedactingLogger"


# --- Prometheus multiprocess mode ----------------------------------------------------------
# With several workers each process keeps its own metrics; prometheus_client merges them
# from files in PROMETHEUS_MULTIPROC_DIR (taskforge/metrics.py reads it). The directory
# must start empty and a dead worker's live gauges must be dropped.
def on_starting(server: object) -> None:
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "").strip()
    if directory:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        for stale in glob.glob(os.path.join(directory, "*.db")):
            os.unlink(stale)


def child_exit(server: object, worker: Any) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR", "").strip():
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
