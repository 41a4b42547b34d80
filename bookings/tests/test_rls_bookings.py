"""Row-level security on bookings, proven at the database level as the application role."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from bookings.models import Booking
from taskforge.dbcontext import DbContext, db_context
from taskforge.testing.personas import acting

pytestmark = pytest.mark.django_db


def _one(sql: str, params: list | None = None):
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.fetchone()


def _rowcount(sql: str, params: list | None = None) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.rowcount


@pytest.fixture
def two_bookings(make_trip, book, traveller, other_traveller):
    trip = make_trip()
    return trip, book(traveller, trip, 2), book(other_traveller, trip, 1)


def test_table_has_row_security_enabled_and_forced() -> None:
    enabled, forced = _one(
        "SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname = 'bookings_booking'"
    )
    assert (enabled, forced) == (True, True)
    assert _one("SELECT count(*) FROM pg_policies WHERE tablename = 'bookings_booking'")[0] >= 1
    assert _one("SELECT current_user")[0] != "postgres"


def test_no_context_sees_no_bookings(two_bookings) -> None:
    assert _one("SELECT count(*) FROM bookings_booking")[0] == 0
    assert Booking.objects.count() == 0


def test_traveller_sees_only_own_rows_and_the_booking_desk_sees_all(two_bookings, traveller, booking_desk) -> None:
    _trip, mine, theirs = two_bookings
    with acting(traveller):
        assert list(Booking.objects.values_list("id", flat=True)) == [mine.pk]
        assert _one("SELECT count(*) FROM bookings_booking WHERE id = %s", [theirs.pk])[0] == 0
    with acting(booking_desk):
        assert set(Booking.objects.values_list("id", flat=True)) == {mine.pk, theirs.pk}
    with db_context(DbContext(user_id="999999", role="system")):
        assert Booking.objects.count() == 2


def test_under_a_context_update_and_delete_of_b_touch_zero_rows(two_bookings, traveller) -> None:
    _trip, mine, theirs = two_bookings
    with acting(traveller):
        assert _rowcount("UPDATE bookings_booking SET payment_reference = 'x' WHERE id = %s", [theirs.pk]) == 0
        assert _rowcount("DELETE FROM bookings_booking WHERE id = %s", [theirs.pk]) == 0
        assert _rowcount("UPDATE bookings_booking SET payment_reference = 'x'") == 1  # only A's own row
    with db_context(DbContext(user_id="1", role="system")):
        theirs.refresh_from_db()
        assert theirs.payment_reference == ""
        assert Booking.objects.filter(pk=theirs.pk).exists()


def test_insert_for_someone_else_is_refused_by_with_check(two_bookings, traveller, other_traveller) -> None:
    trip, mine, _theirs = two_bookings
    insert = (
        "INSERT INTO bookings_booking (user_id, trip_code, departure_id, booking_date, travel_date, travellers,"
        " unit_price_minor, total_minor, currency, status, payment_reference, idempotency_key, cancel_reason,"
        " created_at, updated_at) VALUES (%s, %s, %s, now(), %s, 1, 100, 100, 'GBP', 'pending', '',"
        " gen_random_uuid(), '', now(), now())"
    )
    with acting(traveller):
        with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
            _rowcount(insert, [other_traveller.pk, trip.code, mine.departure_id, trip.start])
        # ...and A cannot hand an own row over to B either (WITH CHECK on UPDATE).
        with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
            _rowcount("UPDATE bookings_booking SET user_id = %s WHERE id = %s", [other_traveller.pk, mine.pk])
        # The same insert for A itself is allowed.
        assert _rowcount(insert, [traveller.pk, trip.code, mine.departure_id, trip.start]) == 1


def test_no_context_cannot_insert(two_bookings, traveller) -> None:
    trip, _mine, _theirs = two_bookings
    with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
        _rowcount(
            "INSERT INTO bookings_booking (user_id, trip_code, booking_date, travel_date, travellers, unit_price_minor,"
            " total_minor, currency, status, payment_reference, idempotency_key, cancel_reason, created_at,"
            " updated_at) VALUES (%s, %s, now(), %s, 1, 100, 100, 'GBP', 'pending', '', gen_random_uuid(), '',"
            " now(), now())",
            [traveller.pk, trip.code, trip.start],
        )


def test_app_role_cannot_switch_row_security_off(two_bookings, traveller) -> None:
    with acting(traveller):
        with pytest.raises(DatabaseError), transaction.atomic():
            _rowcount("ALTER TABLE bookings_booking DISABLE ROW LEVEL SECURITY")
        with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
            _rowcount("SET LOCAL row_security = off")
            _one("SELECT count(*) FROM bookings_booking")


def test_a_team_member_without_the_booking_desk_sees_no_one_elses_bookings(two_bookings, make_user) -> None:
    """Issue: every team member used to be "staff" and see every booking. Now RLS follows the
    booking-desk capability, looked up in the grant table, whatever the team role."""
    from accounts.models import Membership, Team

    _trip, mine, theirs = two_bookings
    team = Team.objects.create(name="Ops", slug="rls-ops")
    members = {role: make_user("member") for role in ("admin", "member", "guest")}
    for role, user in members.items():
        Membership.objects.create(team=team, user=user, role=role)
        with acting(user):
            assert Booking.objects.count() == 0, role
            assert _one("SELECT count(*) FROM bookings_booking")[0] == 0, role
            assert _rowcount("UPDATE bookings_booking SET cancel_reason = 'x'") == 0, role
    desk = make_user("booking_desk")
    with acting(desk):
        assert set(Booking.objects.values_list("id", flat=True)) == {mine.pk, theirs.pk}
    # The capability is read per statement: removing it applies at once.
    from accounts.models import CapabilityGrant
    from taskforge.dbcontext import context_for_system

    with db_context(context_for_system("test")):
        CapabilityGrant.objects.filter(user=desk).delete()
    with acting(desk):
        assert Booking.objects.count() == 0
