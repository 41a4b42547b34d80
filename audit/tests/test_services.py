"""audit.services.audit_content_record: content (MongoDB) changes audited in the caller's transaction."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from django.db import transaction

from audit.models import AuditLog
from audit.services import audit_content_record
from taskforge.dbcontext import DbContext, db_context

pytestmark = pytest.mark.django_db

ACTOR = DbContext(user_id="77", role="user", ip="192.0.2.10", user_agent="pytest-ua", request_id="req-content-0001")
ADMIN = DbContext(user_id="1", role="system")


class FakeObjectId:
    def __str__(self) -> str:
        return "65f0c0ffee0000000000abcd"


def _rows(table: str) -> list[AuditLog]:
    with db_context(ADMIN):
        return list(AuditLog.objects.filter(table_name=table).order_by("id"))


def test_records_a_content_change_with_the_actor_from_the_context() -> None:
    record = uuid.uuid4()
    when = dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    with db_context(ACTOR), transaction.atomic():
        assert audit_content_record(
            table="task_detail",
            record_id=record,
            operation="update",
            old={"description": "old", "tags": ["a"]},
            new={
                "description": "new",
                "tags": ["a", "b"],
                "due": when,
                "price": Decimal("1.50"),
                "_id": FakeObjectId(),
            },
        )
    (row,) = _rows("task_detail")
    assert (row.record_id, row.operation, row.user_id, row.actor_role) == (str(record), "UPDATE", 77, "user")
    assert (row.ip_address, row.user_agent, row.request_id) == ("192.0.2.10", "pytest-ua", "req-content-0001")
    assert row.old_values == {"description": "old", "tags": ["a"]}
    assert row.new_values["due"] == "2030-01-02T03:04:05Z" and row.new_values["price"] == "1.50"
    assert row.new_values["_id"] == "65f0c0ffee0000000000abcd"


def test_insert_and_delete_carry_one_side_only() -> None:
    with db_context(ACTOR):
        audit_content_record(table="trip_content", record_id="TRIP-1", operation="INSERT", old=None, new={"n": 1})
        audit_content_record(table="trip_content", record_id="TRIP-1", operation="DELETE", old={"n": 1}, new=None)
    rows = _rows("trip_content")
    assert [(r.operation, r.old_values, r.new_values) for r in rows] == [
        ("INSERT", None, {"n": 1}),
        ("DELETE", {"n": 1}, None),
    ]


def test_an_update_that_changes_nothing_is_not_recorded() -> None:
    with db_context(ACTOR):
        assert not audit_content_record(table="profile", record_id=5, operation="UPDATE", old={"a": 1}, new={"a": 1})
    assert _rows("profile") == []


def test_the_audit_row_rolls_back_with_the_change() -> None:
    with db_context(ACTOR), pytest.raises(RuntimeError), transaction.atomic():
        audit_content_record(table="comment", record_id="c1", operation="INSERT", old=None, new={"body": "hi"})
        raise RuntimeError("the service failed after auditing")
    assert _rows("comment") == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"operation": "UPSERT"}, "operation must be one of"),
        ({"table": "Bad-Table"}, "lower-case identifier"),
        ({"table": "x; DROP TABLE audit_log"}, "lower-case identifier"),
        ({"record_id": ""}, "1 to 128"),
        ({"record_id": "x" * 129}, "1 to 128"),
    ],
)
def test_bad_arguments_are_refused_and_nothing_is_written(kwargs: dict, message: str) -> None:
    args = {"table": "task_detail", "record_id": "r", "operation": "INSERT", "old": None, "new": {"a": 1}, **kwargs}
    with pytest.raises(ValueError, match=message):
        audit_content_record(**args)
    with pytest.raises(TypeError, match="mapping"):
        audit_content_record(table="t", record_id="r", operation="INSERT", old=None, new=["not", "a", "dict"])
    with db_context(ADMIN):
        assert AuditLog.objects.count() == 0


def test_password_hashes_never_reach_the_log(make_user) -> None:
    user = make_user("traveller")
    user.set_password("another-long-password-1")
    with db_context(ACTOR):
        user.save(update_fields=["password"])
    rows = _rows("accounts_user")
    assert len(rows) == 2  # created, then the password change: still visible as a change
    for row in rows:
        for values in (row.old_values, row.new_values):
            if values:
                assert values["password"].startswith("redacted:") and "argon2" not in values["password"]
    assert rows[1].old_values["password"] != rows[1].new_values["password"]
