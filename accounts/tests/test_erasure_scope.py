"""Erasure and export stay on the person's own data (security review findings 1 and 2).

* Erasing an account scrubs only what references the person BY ID: a traveller named
  "Confirmed" must not rewrite team "Confirmed Ops"'s sealed audit rows, other people's
  comments and notifications, or other aggregates' outbox payloads.
* "Download my data" returns full values only for audit rows ABOUT the person; rows the
  person merely acted on (a staff member editing a traveller's booking) are metadata only,
  and another actor's IP address and browser never appear in someone's export.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from bson import ObjectId
from django.db import DatabaseError, connection, transaction
from django.test import Client

from accounts.models import ErasureRecord, Profile, Team, User
from accounts.services.teams import team_create
from accounts.tests.conftest import client_for
from accounts.tests.test_personal_data import _mongo_hits, _pg_hits
from audit.services import audit_seal_all
from sync.models import OutboxEvent
from taskforge.dbcontext import DbContext, db_context
from taskforge.mongo import documents_collection
from tasks.models import Notification, TaskComment

MINE, THEIRS = ObjectId(), ObjectId()  # comment ids (the content model's ObjectIds)

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"
EMAIL = "confirmed.traveller@example.com"
STAFF_IP, STAFF_AGENT = "198.51.100.91", "StaffBrowser/9.1 (review)"


def _admin():
    return db_context(DbContext(user_id="1", role="system"))


def _audit_rows(where: str, params: list) -> list[tuple]:
    with _admin(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, old_values, new_values, content_hash, redacted_at, ip_address, user_agent FROM audit_log "
            f"WHERE {where} ORDER BY id",
            params,
        )
        # jsonb arrives as text on raw cursors here
        return [(r[0], _json(r[1]), _json(r[2]), *r[3:]) for r in cursor.fetchall()]


def _json(value: object) -> object:
    return json.loads(value) if isinstance(value, str) else value


@pytest.fixture
def confirmed(make_user, django_capture_on_commit_callbacks):
    """Team "Confirmed Ops" (sealed audit rows, comments, notifications, outbox events of others)
    and a traveller who chose the name "Confirmed", with traces of their own in both stores."""
    lead = make_user("staff", display_name="Olive Lead")
    mate = make_user("staff", display_name="Pat Mate")
    with db_context(DbContext(user_id=str(lead.pk), role="user")):
        team = team_create(user=lead, name="Confirmed Ops", slug="confirmed-ops", description="Confirmed Ops desk")
    # Another person's profile and an event of another aggregate that say "Confirmed".
    with django_capture_on_commit_callbacks(execute=True):
        client_for(mate).post(
            "/accounts/profile/",
            {
                "first_name": "Pat",
                "last_name": "Mate",
                "bio": "On Confirmed Ops duty.",
                "theme": "light",
                "email_cadence": "daily",
            },
        )
    OutboxEvent.objects.create(
        aggregate_type="notification",
        aggregate_id="other-n1",
        version=1,
        event_type="notification.created",
        payload={"user_id": mate.pk, "actor_id": lead.pk, "title": "Confirmed Ops", "message": "Confirmed Ops rota"},
        status="applied",
    )
    assert audit_seal_all() > 0  # the team's rows are sealed before anyone erases anything

    traveller = make_user("traveller", email=EMAIL, email_verified=True, display_name="Confirmed")
    browser = Client(HTTP_USER_AGENT="Confirmed's browser", REMOTE_ADDR="203.0.113.5")
    browser.force_login(traveller)
    with django_capture_on_commit_callbacks(execute=True):
        browser.post(
            "/accounts/profile/",
            {
                "first_name": "Confirmed",
                "last_name": "Quillby",
                "bio": "Confirmed traveller.",
                "theme": "dark",
                "email_cadence": "weekly",
            },
        )
    comments, notifications = documents_collection(TaskComment), documents_collection(Notification)
    comments.insert_one(
        {
            "_id": MINE,
            "task_id": "t1",
            "team_id": team.pk,
            "author_id": traveller.pk,
            "body": "Confirmed Quillby here: Confirmed.",
            "mentions": [],
        }
    )
    comments.insert_one(
        {
            "_id": THEIRS,
            "task_id": "t1",
            "team_id": team.pk,
            "author_id": mate.pk,
            "body": "Confirmed Ops standup moved to 9. Confirmed Quillby knows.",
            "mentions": [],
        }
    )
    notifications.insert_one({"_id": "for-me", "user_id": traveller.pk, "message": "Confirmed Ops replied"})
    notifications.insert_one(
        {
            "_id": "by-me",
            "user_id": mate.pk,
            "actor_id": traveller.pk,
            "title": "Trip",
            "message": "Confirmed Quillby commented",
        }
    )
    notifications.insert_one(
        {
            "_id": "others",
            "user_id": mate.pk,
            "actor_id": lead.pk,
            "title": "Confirmed Ops",
            "message": "Confirmed Ops handover",
        }
    )
    traveller.refresh_from_db()
    return {"team": team, "lead": lead, "mate": mate, "traveller": traveller, "browser": browser}


def _snapshot_others(world: dict) -> dict:
    traveller = world["traveller"]
    return {
        "team_rows": _audit_rows("table_name = 'accounts_team' AND record_id = %s", [str(world["team"].pk)]),
        "outbox": sorted(
            (e.pk, json.dumps(e.payload, sort_keys=True))
            for e in OutboxEvent.objects.exclude(
                aggregate_type__in=("profile", "personal_data_erasure"), aggregate_id=str(traveller.pk)
            )
        ),
        "theirs": documents_collection(TaskComment).find_one({"_id": THEIRS}),
        "others": documents_collection(Notification).find_one({"_id": "others"}),
    }


def test_erasing_confirmed_leaves_team_confirmed_ops_alone(confirmed, django_capture_on_commit_callbacks) -> None:
    traveller = confirmed["traveller"]
    before = _snapshot_others(confirmed)
    assert any(row[2] and row[2].get("name") == "Confirmed Ops" and row[3] for row in before["team_rows"])
    with django_capture_on_commit_callbacks(execute=True):
        response = confirmed["browser"].post("/accounts/delete/", {"password": PASSWORD, "confirm": "on"})
    assert response.status_code == 200, response.content[:500]
    pseudonym = ErasureRecord.objects.get(user_id=traveller.pk).pseudonym

    # Other people's data: byte for byte the same, the sealed team rows not even redacted.
    after = _snapshot_others(confirmed)
    assert after == before
    assert all(row[4] is None for row in after["team_rows"])
    assert Team.objects.get(pk=confirmed["team"].pk).name == "Confirmed Ops"
    mate_doc = mongo_profile(confirmed["mate"].pk)
    assert mate_doc["bio"] == "On Confirmed Ops duty."

    # The erased person's own traces are gone from both stores.
    assert _pg_hits(EMAIL) == {} and _mongo_hits(EMAIL) == {}
    assert _pg_hits("Quillby") == {}, _pg_hits("Quillby")
    assert _mongo_hits("Quillby") == {"task_comments": 1}  # only inside someone else's comment, kept as written
    mine = documents_collection(TaskComment).find_one({"_id": MINE})
    assert mine["author_id"] == traveller.pk and mine["body"] == f"{pseudonym} here: {pseudonym}."
    assert documents_collection(Notification).find_one({"_id": "for-me"}) is None
    assert documents_collection(Notification).find_one({"_id": "by-me"})["message"] == f"{pseudonym} commented"
    rows = _audit_rows("table_name = 'accounts_user' AND record_id = %s", [str(traveller.pk)])
    assert rows and all((r[2] or {}).get("display_name", pseudonym) == pseudonym for r in rows)
    assert all(r[5] is None and r[6] == "" for r in rows)
    profile_rows = _audit_rows("table_name = 'accounts_profile' AND record_id = %s", [str(traveller.pk)])
    assert profile_rows and all("Confirmed" not in json.dumps([r[1], r[2]]) for r in profile_rows)


def mongo_profile(user_id: int) -> dict:
    return documents_collection(Profile).find_one({"_id": user_id}) or {}


def test_the_erasure_writes_to_mongodb_only_after_the_commit(confirmed) -> None:
    """Without the on-commit callbacks (the transaction has not committed, for all MongoDB knows),
    nothing in MongoDB has changed yet; the durable outbox event carries the work."""
    traveller = confirmed["traveller"]
    response = confirmed["browser"].post("/accounts/delete/", {"password": PASSWORD, "confirm": "on"})
    assert response.status_code == 200
    assert documents_collection(Notification).find_one({"_id": "for-me"}) is not None
    assert documents_collection(TaskComment).find_one({"_id": MINE})["body"].startswith("Confirmed Quillby")
    event = OutboxEvent.objects.get(aggregate_type="personal_data_erasure", aggregate_id=str(traveller.pk))
    assert event.status == "pending"
    assert "Quillby" not in json.dumps(event.payload) and EMAIL not in json.dumps(event.payload)


# --- export (finding 2) ----------------------------------------------------------------------------


@pytest.fixture
def booking_edited_by_staff(make_user):
    from bookings.models import Booking, Departure, Trip

    traveller = make_user("traveller", email="bea.booker@example.com", email_verified=True, display_name="Bea Booker")
    staff = make_user("staff", display_name="Stan Staff")
    with _admin():
        trip = Trip.objects.create(
            code="EXP-SCOPE", price_minor=1000, seats=20, start=dt.date(2031, 5, 1), length_days=3
        )
        departure = Departure.objects.create(trip=trip, date=trip.start, capacity=20)
    with db_context(DbContext(user_id=str(traveller.pk), role="user", ip="203.0.113.44", user_agent="BeaPhone")):
        booking = Booking.objects.create(
            user=traveller,
            trip=trip,
            departure=departure,
            travel_date=trip.start,
            travellers=2,
            unit_price_minor=1000,
            total_minor=2000,
            currency="GBP",
        )
    with db_context(DbContext(user_id=str(staff.pk), role="user", ip=STAFF_IP, user_agent=STAFF_AGENT)):
        Booking.objects.filter(pk=booking.pk).update(status="confirmed", payment_reference="PAY-BEA-778")
    return {"traveller": traveller, "staff": staff, "booking": booking}


def _export(user: User) -> dict:
    response = client_for(user).get("/accounts/data/export/")
    assert response.status_code == 200
    return json.loads(response.content)


def test_a_staff_export_holds_only_metadata_of_rows_they_acted_on(booking_edited_by_staff) -> None:
    staff, booking = booking_edited_by_staff["staff"], booking_edited_by_staff["booking"]
    data = _export(staff)
    rows = [e for e in data["audit_entries"] if e["table_name"] == "bookings_booking"]
    assert [(e["record_id"], e["operation"]) for e in rows] == [(str(booking.pk), "UPDATE")]
    assert rows[0]["old_values"] is None and rows[0]["new_values"] is None and rows[0]["created_at"]
    text = json.dumps(data, default=str)
    assert "PAY-BEA-778" not in text and "bea.booker" not in text
    # their own account row is about them: full values
    own = [e for e in data["audit_entries"] if e["table_name"] == "accounts_user" and e["record_id"] == str(staff.pk)]
    assert own and own[0]["new_values"]["display_name"] == "Stan Staff"


def test_a_traveller_export_has_their_booking_but_not_the_staff_members_ip_or_browser(
    booking_edited_by_staff,
) -> None:
    traveller, staff = booking_edited_by_staff["traveller"], booking_edited_by_staff["staff"]
    data = _export(traveller)
    rows = [e for e in data["audit_entries"] if e["table_name"] == "bookings_booking"]
    assert [e["operation"] for e in rows] == ["INSERT", "UPDATE"]
    assert rows[1]["new_values"]["payment_reference"] == "PAY-BEA-778"  # about them: values kept
    assert rows[0]["ip_address"] == "203.0.113.44" and rows[0]["user_agent"] == "BeaPhone"  # their own request
    assert rows[1]["actor_role"] == "user" and rows[1]["actor_user_id"] is None
    assert rows[1]["ip_address"] is None and rows[1]["user_agent"] == "" and rows[1]["request_id"] == ""
    text = json.dumps(data, default=str)
    assert STAFF_IP not in text and STAFF_AGENT not in text and staff.email not in text


def test_erasure_writes_run_as_the_real_role_not_admin(
    booking_edited_by_staff, django_capture_on_commit_callbacks
) -> None:
    from bookings.models import Booking

    traveller, booking = booking_edited_by_staff["traveller"], booking_edited_by_staff["booking"]
    with _admin():
        Booking.objects.filter(pk=booking.pk).update(cancel_reason="Bea Booker cannot travel")
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(traveller).post("/accounts/delete/", {"password": PASSWORD, "confirm": "on"})
    assert response.status_code == 200
    with _admin():
        assert "Bea Booker" not in Booking.objects.get(pk=booking.pk).cancel_reason
    roles = {
        row[0]
        for row in _raw(
            "SELECT actor_role FROM audit_log WHERE user_id = %s AND created_at >= now() - interval '1 hour'",
            [traveller.pk],
        )
    }
    assert roles == {"user"}, roles  # the person's own context, never the system's


def _raw(sql: str, params: list) -> list[tuple]:
    with _admin(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def test_the_elevated_read_for_the_task_export_cannot_write(make_user) -> None:
    from accounts.export import elevated_read

    user = make_user("staff")
    with db_context(DbContext(user_id=str(user.pk), role="user")):
        with elevated_read():
            with connection.cursor() as cursor:
                cursor.execute("SELECT current_setting('rls.role')")
                assert cursor.fetchone()[0] == "system"
            with pytest.raises(DatabaseError, match="read-only"), transaction.atomic():
                Team.objects.create(name="Sneaky", slug="sneaky")
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('rls.role'), current_setting('transaction_read_only')")
            assert cursor.fetchone() == ("user", "off")
        Team.objects.create(name="Fine", slug="fine-after")  # writes work again outside it
