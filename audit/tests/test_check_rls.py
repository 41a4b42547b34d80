"""`manage.py check_rls`: the inventory, the failures it must catch, and the isolation proofs."""

from __future__ import annotations

import uuid
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from audit.rlscheck import protected_tables, rls_report
from audit.tests.helpers import owner_connection


def _run(*args: str) -> str:
    out = StringIO()
    call_command("check_rls", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_check_rls_passes_and_lists_flags_policies_and_proofs(make_user) -> None:
    make_user("member")  # an account to try grant writes with
    output = _run()
    for table in ("audit_log", "audit_log_archive", "audit_chain_head"):
        assert f"\n{table}" in output
    assert "audit_admin_read [SELECT to public]" in output
    assert "ok   audit_log as a person with no capability" in output and "ok   audit_log as system" in output
    assert "ok   accounts_capability_grant insert as no context: insert refused" in output
    assert "ok   accounts_capability_grant insert as system: insert accepted" in output
    assert "row-level security in order" in output


@pytest.fixture
def scratch(committed_db, settings):
    """Make scratch tables as the owner (granted to the app role); dropped afterwards."""
    made: list[str] = []

    def make(*, enable: bool = True, force: bool = True, policy: str | None = "false", rows: int = 0) -> str:
        name = f"rls_scratch_{uuid.uuid4().hex[:10]}"
        with owner_connection() as conn:
            conn.execute(f"CREATE TABLE {name} (id bigserial PRIMARY KEY, owner_id bigint)")
            made.append(name)
            conn.execute(f"INSERT INTO {name} (owner_id) SELECT g FROM generate_series(1, %s) g", [rows])
            conn.execute(f"GRANT SELECT ON {name} TO {settings.DB_APP_ROLE}")
            if enable:
                conn.execute(f"ALTER TABLE {name} ENABLE ROW LEVEL SECURITY")
            if force:
                conn.execute(f"ALTER TABLE {name} FORCE ROW LEVEL SECURITY")
            if policy is not None:
                conn.execute(f"CREATE POLICY scratch_read ON {name} FOR SELECT USING ({policy})")
        return name

    yield make
    with owner_connection() as conn:
        for name in made:
            conn.execute(f"DROP TABLE IF EXISTS {name}")


def _fails(*args: str) -> str:
    with pytest.raises(CommandError) as excinfo:
        _run(*args)
    return str(excinfo.value)


def test_a_table_without_force_is_caught(scratch) -> None:
    name = scratch(force=False)
    assert name in protected_tables()  # row security is on, so it counts as protected
    message = _fails()
    assert f"{name}: row level security is not FORCEd" in message


def test_a_real_table_switched_to_no_force_is_caught(committed_db) -> None:
    with owner_connection() as conn:
        conn.execute("ALTER TABLE audit_log_archive NO FORCE ROW LEVEL SECURITY")
    try:
        assert "audit_log_archive: row level security is not FORCEd" in _fails("--no-proofs")
    finally:
        with owner_connection() as conn:
            conn.execute("ALTER TABLE audit_log_archive FORCE ROW LEVEL SECURITY")
    assert "row-level security in order" in _run("--no-proofs")


def test_a_table_with_rls_but_no_policy_is_caught(scratch) -> None:
    name = scratch(policy=None)
    assert f"{name}: no policy" in _fails("--no-proofs")


def test_an_expected_table_that_is_missing_or_unprotected_is_caught(scratch) -> None:
    assert "no_such_table: table does not exist" in _fails("--no-proofs", "--table", "no_such_table")
    plain = scratch(enable=False, force=False, policy=None)
    message = _fails("--no-proofs", "--table", plain)
    assert f"{plain}: row level security is not ENABLEd" in message and f"{plain}: no policy" in message


def test_a_policy_that_shows_rows_without_context_fails_the_proof(scratch) -> None:
    name = scratch(policy="true", rows=3)
    message = _fails()
    assert f"proof {name} without context: 3 row(s) visible with no context" in message


def test_an_application_role_with_bypassrls_or_superuser_is_caught(db, settings) -> None:
    settings.DB_APP_ROLE = settings.DB_BACKUP_ROLE  # a role with BYPASSRLS
    assert f"{settings.DB_BACKUP_ROLE} has BYPASSRLS" in _fails("--no-proofs")
    settings.DB_APP_ROLE = settings.DATABASE_SUPERUSER["USER"]
    assert "is a superuser" in _fails("--no-proofs")


def test_an_application_role_that_owns_protected_tables_is_caught(db, settings) -> None:
    settings.DB_APP_ROLE = settings.DB_OWNER_ROLE
    message = _fails()
    assert "application role: owns protected table audit_log" in message
    assert "not as the application role" in message  # and the proofs refuse to run as another role
    report = rls_report()
    assert report.proofs == []


def test_bookings_isolation_is_proved_with_real_rows(db, make_user) -> None:
    """Travellers see exactly their own bookings; a traveller with none sees none; a team member
    without the booking desk sees no one else's; the booking desk and the system see all."""
    import datetime as dt

    from accounts.models import Membership, Team
    from bookings.models import Booking, Departure, Trip
    from taskforge.dbcontext import DbContext, db_context

    a, b, admin = make_user("traveller"), make_user("traveller"), make_user("admin")
    desk, member = make_user("booking_desk"), make_user("member")
    with db_context(DbContext(user_id=str(admin.pk), role="system")):
        trip = Trip.objects.create(
            code="RLS-PROOF", price_minor=1000, seats=20, start=dt.date(2031, 5, 1), length_days=3
        )
        departure = Departure.objects.create(trip=trip, date=trip.start, capacity=20)
        for user, count in ((a, 3), (b, 1)):
            for _ in range(count):
                Booking.objects.create(
                    user=user,
                    trip=trip,
                    departure=departure,
                    travel_date=trip.start,
                    travellers=2,
                    unit_price_minor=1000,
                    total_minor=2000,
                    currency="GBP",
                )
        team = Team.objects.create(name="Ops", slug="rls-proof-ops")
        Membership.objects.create(team=team, user=member, role="admin")
    assert "bookings_booking" in protected_tables()
    output = _run()
    print(output)
    assert "ok   bookings_booking as system: the system sees 4 row(s)" in output
    assert f"ok   bookings_booking as owner {a.pk}: sees 3 row(s), owns 3, other people's visible: 0" in output
    assert f"ok   bookings_booking as owner {b.pk}: sees 1 row(s), owns 1, other people's visible: 0" in output
    assert "ok   bookings_booking as a person with none: sees 0 row(s)" in output
    assert (
        f"ok   bookings_booking as team member {member.pk} without the booking desk: other people's rows visible: 0"
        in output
    )
    assert f"ok   bookings_booking as booking desk {desk.pk}: sees 4 of 4 row(s)" in output


def test_tasks_team_isolation_is_proved_with_real_rows(db, make_user) -> None:
    """A team member sees only the tasks of their own teams."""
    from accounts.models import Membership, Team
    from taskforge.dbcontext import DbContext, db_context
    from tasks.models import Task

    x, y, admin = make_user("member"), make_user("member"), make_user("admin")
    with db_context(DbContext(user_id=str(admin.pk), role="system")):
        team_x, team_y = (
            Team.objects.create(name="X", slug=f"x-{x.pk}"),
            Team.objects.create(name="Y", slug=f"y-{y.pk}"),
        )
        Membership.objects.create(team=team_x, user=x)
        Membership.objects.create(team=team_y, user=y)
        Task.objects.create(team=team_x, title="x's task")
        Task.objects.create(team=team_y, title="y's task")
    output = _run()
    assert f"ok   tasks_task as member {x.pk}: rows of other teams visible: 0" in output
    assert f"ok   tasks_task as member {y.pk}: rows of other teams visible: 0" in output
