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


def test_seed_demo_refuses_production(settings) -> None:
    from django.core.management import CommandError, call_command

    settings.PRODUCTION = True
    with pytest.raises(CommandError, match="prod"):
        call_command("seed_demo")


def _team_member(make_user):
    from accounts.models import Membership, Team

    user = make_user("member")
    Membership.objects.create(team=Team.objects.create(name="Home", slug=f"home-{user.pk}"), user=user)
    return user


@pytest.mark.django_db
def test_home_page_speaks_to_who_is_signed_in(client: Client, make_user) -> None:
    anonymous = client.get("/").content.decode()
    assert "sign in to your team's boards" in anonymous and 'href="/accounts/login/"' in anonymous
    client.force_login(_team_member(make_user))
    staff = client.get("/").content.decode()
    assert "sign in to your team" not in staff and "Sign in</a>" not in staff
    assert '<a class="button" href="/tasks/">Your boards</a>' in staff
    client.force_login(make_user("traveller"))
    traveller = client.get("/").content.decode()
    assert "sign in to your team" not in traveller and "boards" not in traveller
    assert 'href="/bookings/mine/">My bookings</a>' in traveller


@pytest.mark.django_db
def test_nav_links_the_boards_for_team_members_only(client: Client, make_user) -> None:
    def nav(html: str) -> str:
        return html.split('<nav id="mainnav"', 1)[1].split("</nav>", 1)[0]

    assert 'href="/tasks/"' not in nav(client.get("/").content.decode())
    client.force_login(make_user("traveller"))
    assert 'href="/tasks/"' not in nav(client.get("/").content.decode())
    client.force_login(make_user("staff"))  # every site capability, in no team
    assert 'href="/tasks/"' not in nav(client.get("/trips/").content.decode())
    client.force_login(_team_member(make_user))
    assert '<a href="/tasks/">Boards</a>' in nav(client.get("/trips/").content.decode())
    assert client.get("/tasks/").status_code == 200
