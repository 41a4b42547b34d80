"""The Prometheus endpoint: allowed from loopback or with the token, 404 otherwise."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_metrics_from_loopback_cover_requests_queries_queues_outbox_and_cache(client: Client) -> None:
    client.get("/")
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200
    body = response.content.decode()
    for name in (
        "taskforge_http_requests_total",
        "taskforge_http_request_seconds",
        "taskforge_db_queries_per_request",
        "taskforge_celery_queue_depth",
        "taskforge_outbox_pending",
        "taskforge_cache_hit_ratio",
    ):
        assert name in body
    assert 'view="home"' in body


def test_metrics_refused_from_elsewhere_without_token(client: Client) -> None:
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.5").status_code == 404


def test_metrics_token(client: Client, settings) -> None:
    """With a token set (always, in production), loopback alone is not enough: only its bearer gets in."""
    settings.METRICS_TOKEN = "s3cret-token-of-at-least-32-chars"
    refused = [
        {"REMOTE_ADDR": "127.0.0.1"},
        {"REMOTE_ADDR": "203.0.113.5"},
        {"REMOTE_ADDR": "127.0.0.1", "HTTP_AUTHORIZATION": "Bearer wrong-token-of-at-least-32-charss"},
        {"REMOTE_ADDR": "127.0.0.1", "HTTP_AUTHORIZATION": "Bearer s3cret-token-of-at-least-32-char"},
        {"REMOTE_ADDR": "127.0.0.1", "HTTP_AUTHORIZATION": "s3cret-token-of-at-least-32-chars"},
        {"REMOTE_ADDR": "127.0.0.1", "HTTP_AUTHORIZATION": "Basic s3cret-token-of-at-least-32-chars"},
    ]
    for extra in refused:
        assert client.get("/metrics", **extra).status_code == 404, extra
    for addr in ("203.0.113.5", "127.0.0.1"):
        ok = client.get("/metrics", REMOTE_ADDR=addr, HTTP_AUTHORIZATION="Bearer s3cret-token-of-at-least-32-chars")
        assert ok.status_code == 200
        assert b"taskforge_http_requests_total" in ok.content


def test_client_chosen_methods_do_not_create_label_values(client: Client) -> None:
    for i in range(5):
        client.generic(f"BREW{i}", "/")
    body = client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()
    assert "BREW" not in body
    assert 'method="other"' in body


def test_each_family_is_described_once(client: Client) -> None:
    body = client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()
    types = [line for line in body.splitlines() if line.startswith("# TYPE ")]
    assert len(types) == len(set(types))
