"""Booking events reach the booking desk's endpoints; row-level security keeps endpoints (and
their secrets) and deliveries to the people who manage them."""

from __future__ import annotations

import uuid

import pytest
from django.db import DatabaseError, transaction

from bookings import services as booking_services
from bookings.tests.conftest import create_trip
from taskforge.testing.personas import acting
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.services.deliveries import delivery_attempt
from webhooks.tests.conftest import fan_out, make_endpoint

pytestmark = pytest.mark.django_db

BOOKING_EVENTS = ["booking.created", "booking.confirmed", "booking.cancelled"]


def test_booking_events_are_delivered_to_the_desk_endpoint(people, receiver) -> None:
    make_endpoint(people.booking_desk, receiver.url, BOOKING_EVENTS, receiver=receiver)
    make_endpoint(people.team_admin, receiver.url, ["task.created"], team=people.x)  # hears nothing of bookings
    trip = create_trip(people.catalogue_editor)
    traveller = people.traveller
    with acting(traveller):
        booking, created = booking_services.booking_create(
            actor=traveller, trip_code=trip.code, travel_date=trip.start, travellers=2,
            idempotency_key=uuid.uuid4(), expected_total_minor=2 * trip.price_minor,
        )  # fmt: skip
        assert created
        # A repeated submit returns the first booking and announces nothing.
        booking_services.booking_create(
            actor=traveller, trip_code=trip.code, travel_date=trip.start, travellers=2,
            idempotency_key=booking.idempotency_key, expected_total_minor=2 * trip.price_minor,
        )  # fmt: skip
    with acting(people.booking_desk):
        booking_services.booking_confirm(actor=people.booking_desk, booking_id=booking.pk)
        booking_services.booking_cancel(actor=people.booking_desk, booking_id=booking.pk, reason="Weather")
    deliveries = fan_out()
    assert sorted(d.event_type for d in deliveries) == sorted(BOOKING_EVENTS)
    for delivery in deliveries:
        assert delivery.endpoint.scope == "desk"
        assert delivery_attempt(str(delivery.pk)) == "succeeded"
    by_type = {r.headers["X-TaskForge-Event"]: r.json for r in receiver.received}
    assert all(r.signature_ok for r in receiver.received)
    created_data = by_type["booking.created"]["data"]
    assert created_data["reference"] == f"B{booking.pk:06d}" and created_data["trip_code"] == trip.code
    assert created_data["travellers"] == 2 and created_data["status"] == "pending"
    assert by_type["booking.created"]["team_id"] is None
    assert by_type["booking.confirmed"]["data"]["status"] == "confirmed"
    assert by_type["booking.cancelled"]["data"]["cancel_reason"] == "Weather"


def _visible(user) -> tuple[set[int], int]:
    with acting(user):
        return set(WebhookEndpoint.objects.values_list("pk", flat=True)), WebhookDelivery.objects.count()


def test_rls_shows_endpoints_and_deliveries_only_to_their_managers(people, receiver) -> None:
    team_ep, _ = make_endpoint(people.team_admin, receiver.url, ["task.created"], team=people.x)
    desk_ep, _ = make_endpoint(people.booking_desk, receiver.url, ["booking.created"])
    y_ep, _ = make_endpoint(people.y_admin, receiver.url, ["task.created"], team=people.y)
    from tasks import services as task_services

    with acting(people.team_member):
        task_services.task_create(actor=people.team_member, team_id=people.x.id, title="One")
    fan_out()
    assert _visible(people.team_admin) == ({team_ep.pk}, 1)
    assert _visible(people.booking_desk) == ({desk_ep.pk}, 0)
    assert _visible(people.y_admin) == ({y_ep.pk}, 0)
    assert _visible(people.site_admin) == ({team_ep.pk, desk_ep.pk, y_ep.pk}, 1)
    for outsider in ("team_member", "team_guest", "traveller", "catalogue_editor", "reports_reader"):
        assert _visible(getattr(people, outsider)) == (set(), 0), outsider
    assert _visible(None) == (set(), 0)


@pytest.mark.parametrize("actor", ["team_member", "traveller"])
def test_rls_refuses_writing_an_endpoint_one_may_not_manage(people, actor) -> None:
    user = getattr(people, actor)
    with acting(user), pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
        WebhookEndpoint.objects.create(
            scope="team", team=people.x, url="http://127.0.0.1/", secret="whsec_x", event_types=["task.created"]
        )
    with acting(people.team_admin), transaction.atomic():
        WebhookEndpoint.objects.create(
            scope="team", team=people.x, url="http://127.0.0.1/", secret="whsec_x", event_types=["task.created"]
        )


def test_a_team_that_grants_team_manage_to_members_lets_them_see_its_endpoints(people, receiver) -> None:
    """RLS follows the team's permission table, as permission_has does."""
    from accounts.models import RolePermission
    from accounts.permissions import DEFAULT_ROLE_PERMISSIONS, permissions_invalidate
    from taskforge.dbcontext import context_for_system, db_context

    ep, _ = make_endpoint(people.team_admin, receiver.url, ["task.created"], team=people.x)
    assert _visible(people.team_member) == (set(), 0)
    with db_context(context_for_system("test")):
        rows = [
            RolePermission(team=people.x, role=role, permission=perm)
            for role, perms in DEFAULT_ROLE_PERMISSIONS.items()
            for perm in perms
        ]
        rows.append(RolePermission(team=people.x, role="member", permission="team.manage"))
        RolePermission.objects.bulk_create(rows)
    permissions_invalidate(people.x.id)
    assert _visible(people.team_member) == ({ep.pk}, 0)
    assert _visible(people.team_admin) == ({ep.pk}, 0)
