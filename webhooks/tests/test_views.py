"""The webhook pages: what a team admin, a member and an outsider may do; the booking desk and
the rest; the secret shown once; bad input answered with a message and a 4xx."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from taskforge.dbcontext import context_for_system, db_context
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.tests.conftest import make_endpoint

pytestmark = pytest.mark.django_db

PUBLIC_URL = "https://93.184.215.14/hooks"


def _client(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def _endpoints() -> list[WebhookEndpoint]:
    with db_context(context_for_system("test")):
        return list(WebhookEndpoint.objects.order_by("id"))


def test_a_team_admin_adds_an_endpoint_and_sees_the_secret_once(people) -> None:
    admin = _client(people.team_admin)
    url = reverse("webhooks:team", args=[people.x.id])
    assert admin.get(url).status_code == 200
    response = admin.post(url, {"url": PUBLIC_URL, "event_types": ["task.created", "comment.created"]})
    assert response.status_code == 201
    [endpoint] = _endpoints()
    assert endpoint.team_id == people.x.id and endpoint.scope == "team"
    assert endpoint.event_types == ["task.created", "comment.created"]
    assert endpoint.secret.startswith("whsec_") and len(endpoint.secret) > 40
    assert endpoint.secret in response.content.decode()
    # Never again: not on the list, the endpoint's page or its edit form.
    for page in (
        url,
        reverse("webhooks:endpoint", args=[endpoint.pk]),
        reverse("webhooks:endpoint_edit", args=[endpoint.pk]),
    ):
        body = admin.get(page).content.decode()
        assert endpoint.secret not in body and PUBLIC_URL in body


@pytest.mark.parametrize(("actor", "status"), [("team_member", 403), ("team_guest", 403), ("traveller", 404),
                                               ("booking_desk", 404), ("site_admin", 404)])  # fmt: skip
def test_who_does_not_manage_the_team_cannot_add_or_list_its_endpoints(people, actor, status) -> None:
    client = _client(getattr(people, actor))
    url = reverse("webhooks:team", args=[people.x.id])
    assert client.get(url).status_code == status
    assert client.post(url, {"url": PUBLIC_URL, "event_types": ["task.created"]}).status_code == status
    assert _endpoints() == []


def test_another_teams_admin_gets_404_and_anonymous_visitors_sign_in(people) -> None:
    url = reverse("webhooks:team", args=[people.x.id])
    assert _client(people.y_admin).get(url).status_code == 404
    response = _client(None).get(url)
    assert response.status_code == 302 and reverse("accounts:login") in response["Location"]


@pytest.mark.parametrize(
    ("url", "events", "says"),
    [
        ("ftp://example.com/", ["task.created"], "Only http:// and https://"),
        ("http://10.0.0.1/hook", ["task.created"], "private address"),
        ("http://169.254.169.254/latest/meta-data", ["task.created"], "link-local"),
        (PUBLIC_URL, ["booking.created"], "Select a valid choice"),  # not a team event
        (PUBLIC_URL, [], "This field is required"),
    ],
)
def test_bad_input_is_refused_with_a_message_and_nothing_is_made(people, settings, url, events, says) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    response = _client(people.team_admin).post(
        reverse("webhooks:team", args=[people.x.id]), {"url": url, "event_types": events}
    )
    assert response.status_code in (400, 422)
    assert says in response.content.decode()
    assert url in response.content.decode() or not url  # what they typed is still there
    assert _endpoints() == []


def test_the_booking_desk_manages_booking_endpoints_only(people) -> None:
    desk = _client(people.booking_desk)
    url = reverse("webhooks:desk")
    assert desk.get(url).status_code == 200
    assert desk.post(url, {"url": PUBLIC_URL, "event_types": ["task.created"]}).status_code == 400
    assert desk.post(url, {"url": PUBLIC_URL, "event_types": ["booking.confirmed"]}).status_code == 201
    [endpoint] = _endpoints()
    assert (endpoint.scope, endpoint.team_id, endpoint.event_types) == ("desk", None, ["booking.confirmed"])
    for actor in ("team_admin", "traveller", "catalogue_editor"):
        client = _client(getattr(people, actor))
        assert client.get(url).status_code == 404
        assert client.get(reverse("webhooks:endpoint", args=[endpoint.pk])).status_code == 404
    assert _client(people.site_admin).get(url).status_code == 200  # site admins hold every capability


def test_edit_disable_enable_new_secret_delete(people, receiver) -> None:
    endpoint, secret = make_endpoint(people.team_admin, receiver.url, ["task.created"], team=people.x)
    admin = _client(people.team_admin)
    edit = reverse("webhooks:endpoint_edit", args=[endpoint.pk])
    response = admin.post(
        edit, {"url": receiver.url, "event_types": ["task.moved"], "description": "CI", "active": "on"}
    )
    assert response.status_code == 302
    [stored] = _endpoints()
    assert (stored.event_types, stored.description, stored.active) == (["task.moved"], "CI", True)

    admin.post(reverse("webhooks:endpoint_toggle", args=[endpoint.pk]))
    assert _endpoints()[0].active is False
    page = admin.get(reverse("webhooks:endpoint", args=[endpoint.pk])).content.decode()
    assert "Disabled" in page and "Enable" in page
    admin.post(reverse("webhooks:endpoint_toggle", args=[endpoint.pk]))
    assert _endpoints()[0].active is True

    response = admin.post(reverse("webhooks:endpoint_secret", args=[endpoint.pk]))
    new_secret = _endpoints()[0].secret
    assert response.status_code == 200 and new_secret != secret and new_secret in response.content.decode()

    response = admin.post(reverse("webhooks:endpoint_delete", args=[endpoint.pk]))
    assert response.status_code == 302 and response["Location"] == reverse("webhooks:team", args=[people.x.id])
    assert _endpoints() == []


@pytest.mark.parametrize("actor", ["team_member", "team_guest", "y_admin", "booking_desk", "site_admin"])
def test_an_endpoint_is_404_to_who_does_not_manage_it(people, receiver, actor) -> None:
    endpoint, _ = make_endpoint(people.team_admin, receiver.url, ["task.created"], team=people.x)
    with db_context(context_for_system("test")):
        delivery = WebhookDelivery.objects.create(
            endpoint=endpoint, event_id="e1", event_type="task.created", payload={}
        )
    client = _client(getattr(people, actor))
    data = {"url": receiver.url, "event_types": ["task.deleted"], "active": "on"}
    assert client.get(reverse("webhooks:endpoint", args=[endpoint.pk])).status_code == 404
    assert client.post(reverse("webhooks:endpoint_edit", args=[endpoint.pk]), data).status_code == 404
    for name in ("endpoint_toggle", "endpoint_secret", "endpoint_delete"):
        assert client.post(reverse(f"webhooks:{name}", args=[endpoint.pk])).status_code == 404
    assert client.post(reverse("webhooks:redeliver", args=[delivery.pk])).status_code == 404
    [stored] = _endpoints()
    assert (stored.event_types, stored.active) == (["task.created"], True)
    with db_context(context_for_system("test")):
        assert WebhookDelivery.objects.count() == 1


def test_the_delivery_log_shows_code_time_attempts_and_redeliver_works(people, receiver) -> None:
    endpoint, _ = make_endpoint(people.team_admin, receiver.url, ["task.created"], team=people.x)
    with db_context(context_for_system("test")):
        delivery = WebhookDelivery.objects.create(
            endpoint=endpoint, event_id="e1", event_type="task.created", payload={"id": "e1"},
            status="failed", attempts=2, last_response_code=503, duration_ms=41, last_error="HTTP 503",
        )  # fmt: skip
    admin = _client(people.team_admin)
    page = admin.get(reverse("webhooks:endpoint", args=[endpoint.pk])).content.decode()
    assert "503" in page and "41 ms" in page and "Failed (will retry)" in page and "Redeliver" in page
    response = admin.post(reverse("webhooks:redeliver", args=[delivery.pk]))
    assert response.status_code == 302
    with db_context(context_for_system("test")):
        again = WebhookDelivery.objects.exclude(pk=delivery.pk).get()
    assert (again.redelivery_of_id, again.event_id, again.status) == (delivery.pk, "e1", "pending")
    page = admin.get(reverse("webhooks:endpoint", args=[endpoint.pk])).content.decode()
    assert "(redelivery)" in page


def test_saving_an_unchanged_url_checks_it_again(people, receiver, settings) -> None:
    # The receiver is on loopback: allowed when it was registered, refused once private
    # targets are off — also when the edit leaves the URL as it was.
    endpoint, _ = make_endpoint(people.team_admin, receiver.url, ["task.created"], team=people.x)
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    response = _client(people.team_admin).post(
        reverse("webhooks:endpoint_edit", args=[endpoint.pk]),
        {"url": receiver.url, "event_types": ["task.moved"], "description": "", "active": "on"},
    )
    assert response.status_code in (400, 422)
    assert "loopback" in response.content.decode() or "private" in response.content.decode()
    assert _endpoints()[0].event_types == ["task.created"]  # nothing was saved
