"""The audit browser's filters answer odd input with a 400 and a message, never a 500
(security review finding 7)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"user": "²"}, "Enter a user id (a number) or an email address."),
        ({"user": "١٢"}, "Enter a user id (a number) or an email address."),
        ({"user": "99999999999999999999999"}, "is not a user id"),
        ({"user": "-5"}, "Enter a user id (a number) or an email address."),
        ({"date_to": "9999-12-31"}, "Enter a date between 1900 and 2999."),
        ({"date_from": "0001-01-01"}, "Enter a date between 1900 and 2999."),
        ({"date_from": "2026-01-01", "date_to": "9999-12-31"}, "Enter a date between 1900 and 2999."),
        ({"date_to": "2026-02-30"}, "Enter a valid date."),
    ],
)
def test_bad_filters_are_400s_with_a_message(admin_client, params: dict, message: str) -> None:
    response = admin_client.get("/audit/", params)
    assert response.status_code == 400
    assert message in response.content.decode()
    partial = admin_client.get("/audit/", params, HTTP_HX_REQUEST="true")
    assert partial.status_code == 400 and message in partial.content.decode()


@pytest.mark.parametrize(
    "params",
    [{"user": "42"}, {"date_from": "1900-01-01", "date_to": "2999-12-31"}, {"user": "nobody-yet@example.com "}],
)
def test_edge_values_that_are_fine_still_work(admin_client, params: dict) -> None:
    response = admin_client.get("/audit/", params)
    assert response.status_code in (200, 400)
    if "@" in params.get("user", ""):
        assert response.status_code == 400 and "No user has the email address" in response.content.decode()
    else:
        assert response.status_code == 200
