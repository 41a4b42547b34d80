"""The base layout and the error pages share one look."""

from __future__ import annotations

import pytest
from django.test import Client


@pytest.mark.django_db
def test_home_page_renders_the_layout(client: Client) -> None:
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'class="topbar"' in html and "css/site.css" in html and "htmx-2.min.js" in html
    assert response["X-Request-ID"]


@pytest.mark.django_db
def test_unknown_url_gets_the_styled_404(client: Client) -> None:
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert b"Not found" in response.content and b'class="topbar"' in response.content


@pytest.mark.django_db
def test_request_id_is_taken_from_a_well_formed_header_only(client: Client) -> None:
    assert client.get("/", HTTP_X_REQUEST_ID="abcdef123456")["X-Request-ID"] == "abcdef123456"
    assert client.get("/", HTTP_X_REQUEST_ID="bad id; drop")["X-Request-ID"] != "bad id; drop"


@pytest.mark.django_db
def test_responses_vary_on_the_htmx_header(client: Client) -> None:
    assert "HX-Request" in client.get("/")["Vary"]


def test_seed_demo_refuses_production(settings) -> None:  # noqa: ANN001
    from django.core.management import CommandError, call_command

    settings.PRODUCTION = True
    with pytest.raises(CommandError, match="prod"):
        call_command("seed_demo")
