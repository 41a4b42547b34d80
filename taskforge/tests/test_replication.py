"""`make verify-replication` as a test: primary -> hot standby and -> reports, on loopback.

deploy/replication/verify.py builds three throw-away PostgreSQL 15 clusters from the
files in deploy/postgres/ (the same ones docker compose uses) and proves streaming
replication through the slot, logical replication into the reports database and a
read-only standby. It needs no Django database, so this is a plain test.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

VERIFY = Path(__file__).resolve().parents[2] / "deploy" / "replication" / "verify.py"


def _run_verify() -> tuple[int, str]:
    proc = subprocess.Popen(
        [sys.executable, str(VERIFY), "--timeout", "20"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        output, _ = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        # SIGTERM, not SIGKILL: verify.py then stops its clusters and removes its files.
        proc.send_signal(signal.SIGTERM)
        try:
            output, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
        pytest.fail(f"verify.py did not finish within 120s:\n{output}")
    return proc.returncode, output


def test_replication_reaches_standby_and_reports_and_standby_is_read_only() -> None:
    returncode, output = _run_verify()

    assert returncode == 0, output
    assert "PASS standby streaming: row visible on the standby" in output, output
    assert "PASS reports logical: row visible in the reports database" in output, output
    assert "PASS standby read-only: write refused with SQLSTATE 25006" in output, output
    assert "clusters stopped, temporary directory removed" in output, output
