"""A small Server-Sent Events reader for the tests (a thread per stream, events in a queue)."""

from __future__ import annotations

import http.client
import json
import queue
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit


@dataclass
class Message:
    event: str
    id: str | None
    data: Any


@dataclass
class SSE:
    status: int
    body: str = ""
    messages: queue.Queue[Message | None] = field(default_factory=queue.Queue)
    comments: list[str] = field(default_factory=list)
    retry: int | None = None
    _conn: http.client.HTTPConnection | None = None

    def next(self, timeout: float = 5.0) -> Message | None:
        """The next event; None when the stream ended (or nothing came within the timeout)."""
        try:
            return self.messages.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()


def open_stream(url: str, *, cookie: str | None = None, last_event_id: str | None = None,
                headers: dict[str, str] | None = None) -> SSE:  # fmt: skip
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    sent = {"Accept": "text/event-stream", **(headers or {})}
    if cookie:
        sent["Cookie"] = f"sessionid={cookie}"
    if last_event_id:
        sent["Last-Event-ID"] = last_event_id
    conn.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""), headers=sent)
    response = conn.getresponse()
    sse = SSE(status=response.status, _conn=conn)
    if response.status != 200:
        sse.body = response.read().decode()
        conn.close()
        return sse

    def read() -> None:
        fields: dict[str, str] = {}
        try:
            while True:
                line = response.readline()
                if not line:
                    break
                text = line.decode().rstrip("\n")
                if text == "":
                    if "data" in fields:
                        data = fields["data"]
                        sse.messages.put(Message(fields.get("event", "message"), fields.get("id"), json.loads(data)))
                    fields = {}
                elif text.startswith(":"):
                    sse.comments.append(text[1:].strip())
                else:
                    name, _, value = text.partition(":")
                    if name == "retry":
                        sse.retry = int(value.strip())
                    else:
                        fields[name] = value[1:] if value.startswith(" ") else value
        except (OSError, ValueError, AttributeError, http.client.HTTPException):  # closed under us
            pass
        sse.messages.put(None)

    threading.Thread(target=read, daemon=True).start()
    return sse
