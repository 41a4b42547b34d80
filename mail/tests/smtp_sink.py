"""A local SMTP sink process for the mail tests (it stands for the world outside the system).

    python -m mail.tests.smtp_sink --port 2525 --out messages.jsonl --events events.jsonl \
        [--hold-rcpt SECONDS --hold-count N] [--fail-data N]

Every accepted message is appended to --out as one JSON line (message_id, from, to,
subject, raw). --hold-rcpt delays the reply to RCPT TO for the first --hold-count
transactions (and logs a "rcpt-held" event first), so a test can kill the sender in the
middle of the SMTP conversation. --fail-data answers the first N DATA commands with a
temporary failure (451). Like a real MTA, a message counts only once its DATA is accepted.
"""

from __future__ import annotations

import argparse
import asyncio
import email
import email.policy
import json
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, out: Path, events: Path, hold_rcpt: float, hold_count: int, fail_data: int) -> None:
        self.out = out
        self.events = events
        self.hold_rcpt = hold_rcpt
        self.hold_left = hold_count
        self.fail_left = fail_data
        self.lock = threading.Lock()

    def _append(self, path: Path, record: dict[str, Any]) -> None:
        with self.lock, path.open("a") as handle:
            handle.write(json.dumps(record) + "\n")
            handle.flush()

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any) -> str:
        if self.hold_left > 0:
            self.hold_left -= 1
            self._append(self.events, {"event": "rcpt-held", "address": address, "at": time.time()})
            await asyncio.sleep(self.hold_rcpt)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.fail_left > 0:
            self.fail_left -= 1
            self._append(self.events, {"event": "data-refused", "at": time.time()})
            return "451 4.3.0 Try again later"
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self._append(
            self.out,
            {
                "message_id": str(message.get("Message-ID", "")),
                "from": envelope.mail_from,
                "to": list(envelope.rcpt_tos),
                "subject": str(message.get("Subject", "")),
                "raw": envelope.content.decode("utf-8", errors="replace"),
                "at": time.time(),
            },
        )
        return "250 2.0.0 Message accepted for delivery"


class SinkProcess:
    """Test-side handle on a sink process: start, read what it recorded, stop."""

    def __init__(self, directory: Path, *, hold_rcpt: float = 0.0, hold_count: int = 0, fail_data: int = 0) -> None:
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.out = directory / "messages.jsonl"
        self.events_file = directory / "events.jsonl"
        self.log = directory / "sink.log"
        self.options = ["--hold-rcpt", str(hold_rcpt), "--hold-count", str(hold_count), "--fail-data", str(fail_data)]
        self.proc: Any = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> SinkProcess:
        import socket
        import subprocess

        root = Path(__file__).resolve().parents[2]
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mail.tests.smtp_sink",
                "--port",
                str(self.port),
                "--out",
                str(self.out),
                "--events",
                str(self.events_file),
                *self.options,
            ],
            cwd=root,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
        raise RuntimeError("smtp sink did not start: " + self.log.read_text(errors="replace")[-2000:])

    def _read(self, path: Path) -> list[dict[str, Any]]:
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def messages(self) -> list[dict[str, Any]]:
        return self._read(self.out)

    def events(self) -> list[dict[str, Any]]:
        return self._read(self.events_file)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except Exception:  # noqa: BLE001
                self.proc.kill()
        self.proc = None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--events", type=Path, required=True)
    parser.add_argument("--hold-rcpt", type=float, default=0.0)
    parser.add_argument("--hold-count", type=int, default=0)
    parser.add_argument("--fail-data", type=int, default=0)
    args = parser.parse_args(argv)
    args.out.touch()
    args.events.touch()
    sink = Sink(args.out, args.events, args.hold_rcpt, args.hold_count, args.fail_data)
    controller = Controller(sink, hostname=args.host, port=args.port)
    controller.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(f"smtp sink listening on {args.host}:{args.port}", flush=True)
    stop.wait()
    controller.stop()
    sys.exit(0)


if __name__ == "__main__":
    main()
