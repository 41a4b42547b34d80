"""Starting and stopping a private SecantusDB (the development document server) for the
tests and the benchmarks: one command line, one readiness rule (a ping answers), one stop
rule (SIGTERM, then SIGKILL: its exit takes about 2 s, and it can hang if signalled while
it is still starting)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from pymongo import MongoClient
from pymongo.errors import PyMongoError


def docserver_argv(port: int, storage: Path) -> list[str]:
    exe = Path(sys.executable).with_name("secantusd-py")
    return [
        str(exe), "--host", "127.0.0.1", "--port", str(port), "--storage-path", str(storage), "--log-level", "WARNING",
    ]  # fmt: skip


def wait_for_ping(port: int, proc: subprocess.Popen[bytes], *, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"SecantusDB on port {port} exited with {proc.returncode}")
        try:
            with MongoClient(port=port, serverSelectionTimeoutMS=300, directConnection=True) as client:
                client.admin.command("ping")
            return
        except PyMongoError:
            time.sleep(0.1)
    raise RuntimeError(f"SecantusDB did not answer a ping on port {port} within {timeout:.0f} s")


def stop_docserver(proc: subprocess.Popen[bytes] | None, *, grace: float = 5.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
