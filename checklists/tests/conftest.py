"""Fixtures of the checklist tests: the bookings personas and trip factory, a team "ops"
with a member, and a trip whose checklist template has two items for that team."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import Membership, Team
from bookings.tests import conftest as bookings_fixtures
from checklists import services
from taskforge.dbcontext import context_for_system, db_context
from taskforge.testing.personas import acting

# The bookings tests' personas and trip factory, shared.
_fast_password_hashing = bookings_fixtures._fast_password_hashing
booking_desk = bookings_fixtures.booking_desk
catalogue_editor = bookings_fixtures.catalogue_editor
traveller = bookings_fixtures.traveller
make_trip = bookings_fixtures.make_trip


@pytest.fixture
def ops(make_user) -> dict[str, Any]:
    """Team "ops" with one admin, "member" (and team "other", whose member sees none of its work)."""
    member, outsider = make_user("member"), make_user("member")
    with db_context(context_for_system("test ops team")):
        team = Team.objects.create(name="Ops", slug="ops-check")
        other = Team.objects.create(name="Other", slug="other-check")
        Membership.objects.create(team=team, user=member, role="admin")
        Membership.objects.create(team=other, user=outsider, role="member")
    return {"team": team, "member": member, "outsider": outsider, "other": other}


@pytest.fixture
def checklist_trip(make_trip, catalogue_editor, ops) -> Any:
    """A 4-seat trip with a checklist: "Confirm the hotel" 30 days before, "Brief the guide" 1 day before."""
    trip = make_trip(seats=4, price_minor=50_000)
    with acting(catalogue_editor):
        services.checklist_item_add(
            actor=catalogue_editor,
            trip_code=trip.code,
            title="Confirm the hotel",
            team_id=ops["team"].pk,
            offset_days=-30,
            notes="Rooming list to the hotel.",
        )
        services.checklist_item_add(
            actor=catalogue_editor, trip_code=trip.code, title="Brief the guide", team_id=ops["team"].pk, offset_days=-1
        )
    return trip
