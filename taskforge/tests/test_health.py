"""/healthz and /readyz, with each dependency up and down."""

from __future__ import annotations

import pytest
from django.db import connections
from django.test import Client

from taskforge.celery import app as celery_app


def _ready(client: Client) -> tuple[int, dict]:
    response = client.get("/readyz")
    return response.status_code, response.json()


def test_healthz_needs_nothing(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_all_green(client: Client) -> None:
    status, body = _ready(client)
    assert status == 200, body
    assert set(body["checks"]) == {"postgresql", "documents", "redis", "broker"}
    for check in body["checks"].values():
        assert check["status"] == "ok"
        assert check["latency_ms"] >= 0


@pytest.mark.django_db
def test_readyz_503_when_document_server_stopped(client: Client, docserver) -> None:
    docserver.stop()
    try:
        status, body = _ready(client)
    finally:
        docserver.start()
    assert status == 503
    assert body["checks"]["documents"]["status"] == "failed"
    assert body["checks"]["postgresql"]["status"] == "ok"
    assert _ready(client)[0] == 200  # and green again once it is back


@pytest.mark.django_db
def test_readyz_503_when_redis_unreachable(client: Client, settings) -> None:
    settings.CACHES = {
        "default": {**settings.CACHES["default"], "LOCATION": "redis://127.0.0.1:1/0"},
    }
    status, body = _ready(client)
    assert status == 503
    assert body["checks"]["redis"]["status"] == "failed"


@pytest.mark.django_db
def test_readyz_503_when_broker_unreachable(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(celery_app.conf, "broker_url", "amqp://guest:guest@127.0.0.1:1//")
    status, body = _ready(client)
    assert status == 503
    assert body["checks"]["broker"]["status"] == "failed"


def test_readyz_503_when_postgresql_unreachable(client: Client, django_db_blocker) -> None:
    with django_db_blocker.unblock():
        conn = connections["default"]
        original = conn.settings_dict["PORT"]
        conn.close()
        conn.close_pool()
        conn.settings_dict["PORT"] = 1
        try:
            status, body = _ready(client)
        finally:
            conn.close()
            conn.close_pool()
            conn.settings_dict["PORT"] = original
    assert status == 503
    assert body["checks"]["postgresql"]["status"] == "failed"


@pytest.mark.django_db
def test_readyz_does_not_echo_exception_text(client: Client, settings) -> None:
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": "redis://127.0.0.1:1/0"}}
    body = client.get("/readyz").json()
    assert body["checks"]["redis"]["error"].isidentifier()  # an exception class name, no host or message
