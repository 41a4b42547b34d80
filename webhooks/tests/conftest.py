"""Fixtures of the webhooks tests: a real HTTP receiver on loopback that checks signatures,
the SSRF guard opened for it (WEBHOOK_ALLOW_PRIVATE_TARGETS), and helpers that make
endpoints and apply the outbox the way the relay does."""

from __future__ import annotations

import http.server
import json
import threading
from dataclasses import dataclass, field
from typing import Any

import pytest

from sync.relay import relay_sweep
from taskforge.testing.personas import acting
from webhooks.models import WebhookDelivery
from webhooks.services.endpoints import endpoint_create
from webhooks.signing import signature_verify


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    signature_ok: bool | None

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass
class Receiver:
    """An http.server in a thread on 127.0.0.1. `secrets` are the secrets it checks
    signatures with (set after making the endpoint); `status` is what it answers."""

    port: int = 0
    status: int = 204
    secrets: list[str] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"


@pytest.fixture
def receiver():
    state = Receiver()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            header = self.headers.get("X-TaskForge-Signature", "")
            ok = any(signature_verify(s, body, header) for s in state.secrets) if state.secrets else None
            state.received.append(Received(self.path, dict(self.headers.items()), body, ok))
            self.send_response(state.status)
            self.end_headers()
            state.arrived.set()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def _webhook_settings(request, settings):
    """Loopback receivers are allowed (the SSRF tests turn it off again); fast hashing."""
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    settings.WEBHOOK_TIMEOUT_SECONDS = 2
    if request.node.get_closest_marker("browser") is None:
        settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def make_endpoint(actor: Any, url: str, event_types: list[str], *, team: Any = None, receiver: Receiver | None = None):
    """An endpoint made through the service as `actor` (a team's when `team` is given, else the desk's)."""
    with acting(actor):
        endpoint, secret = endpoint_create(
            actor=actor,
            scope="team" if team is not None else "desk",
            team_id=team.id if team is not None else None,
            url=url,
            event_types=event_types,
        )
    if receiver is not None:
        receiver.secrets.append(secret)
    return endpoint, secret


def fan_out() -> list[WebhookDelivery]:
    """Apply the outbox (as the relay does) and return every delivery, oldest first (as the system)."""
    from taskforge.dbcontext import context_for_system, db_context

    relay_sweep()
    with db_context(context_for_system("test")):
        return list(WebhookDelivery.objects.select_related("endpoint").order_by("created_at", "event_type"))
