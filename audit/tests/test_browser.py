"""The audit browser (/audit/), entry and history pages, the history-link tag, and the Django admin."""

from __future__ import annotations

import datetime as dt

import pytest
from django.template import Context, Template
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from accounts.models import Team
from audit.models import AuditLog
from taskforge.dbcontext import DbContext, db_context

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_user(make_user):
    return make_user("admin", email="boss@example.com")


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def _team(name: str, actor) -> Team:
    with db_context(DbContext(user_id=str(actor.pk), role="user", request_id=f"req-{name}")):
        return Team.objects.create(name=name, slug=name.lower().replace(" ", "-"))


def test_admin_sees_entries_with_actor_and_changed_fields(admin_client, admin_user) -> None:
    team = _team("Ops", admin_user)
    with db_context(DbContext(user_id=str(admin_user.pk), role="system")):
        Team.objects.filter(pk=team.pk).update(name="Operations")
    response = admin_client.get("/audit/", {"table": "accounts_team"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "boss@example.com" in body and "UPDATE" in body and "INSERT" in body
    assert f'href="/audit/history/accounts_team/{team.pk}/"' in body
    assert "2 entries" in body
    assert 'id="chain-status"' in body and "awaiting seal" in body


@pytest.mark.parametrize("role", ["traveller", "staff"])
def test_non_admins_get_404_everywhere_and_anonymous_is_sent_to_sign_in(client, make_user, role) -> None:
    user = make_user(role)
    team = _team("Hidden", user)
    urls = ["/audit/", f"/audit/history/accounts_team/{team.pk}/", "/audit/entry/1/"]
    for url in urls:
        anon = client.get(url)
        assert anon.status_code == 302 and anon["Location"].startswith("/accounts/login/")
    client.force_login(user)
    for url in urls:
        assert client.get(url).status_code == 404


def test_filters_by_table_record_user_operation_and_dates(admin_client, admin_user, make_user) -> None:
    other = make_user("staff", email="sam@example.com")
    mine = _team("Mine", admin_user)
    theirs = _team("Theirs", other)
    with db_context(DbContext(user_id=str(other.pk), role="user")):
        Team.objects.filter(pk=theirs.pk).delete()

    def count(**params: str) -> int:
        response = admin_client.get("/audit/", params)
        assert response.status_code == 200, response.content[:500]
        return response.content.decode().count("/audit/entry/")

    assert count(table="accounts_team") == 3
    assert count(table="accounts_team", record=str(mine.pk)) == 1
    assert count(table="accounts_team", user=str(other.pk)) == 2
    assert count(table="accounts_team", user="SAM@example.com") == 2  # email, case-insensitive
    assert count(table="accounts_team", operation="DELETE") == 1
    today = timezone.localdate()
    assert count(table="accounts_team", date_from=str(today), date_to=str(today)) == 3
    assert count(table="accounts_team", date_to=str(today - dt.timedelta(days=1))) == 0
    assert count(table="accounts_team", date_from=str(today + dt.timedelta(days=1))) == 0


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"table": "Robert'); DROP"}, "Use a table name such as accounts_user"),
        ({"user": "nobody@example.com"}, "No user has the email address nobody@example.com"),
        ({"user": "bob"}, "Enter a user id (a number) or an email address"),
        ({"operation": "TRUNCATE"}, "Select a valid choice"),
        ({"date_from": "2024-13-40"}, "Enter a valid date"),
        ({"date_from": "2024-05-02", "date_to": "2024-05-01"}, "must be on or before"),
        ({"source": "elsewhere"}, "Select a valid choice"),
    ],
)
def test_bad_filters_get_400_with_a_clear_message(admin_client, params, message) -> None:
    response = admin_client.get("/audit/", params)
    assert response.status_code == 400
    assert message in response.content.decode()


def test_pagination(admin_client, admin_user) -> None:
    with db_context(DbContext(user_id=str(admin_user.pk), role="system")):
        Team.objects.bulk_create([Team(name=f"T{i}", slug=f"t-{i}") for i in range(120)])
    first = admin_client.get("/audit/", {"table": "accounts_team"}).content.decode()
    assert "Page 1 of 3" in first and "page=2" in first and first.count("/audit/entry/") == 50
    last = admin_client.get("/audit/", {"table": "accounts_team", "page": "3"}).content.decode()
    assert "Page 3 of 3" in last and last.count("/audit/entry/") == 20
    assert "table=accounts_team&amp;page=2" in last  # filters kept across pages
    assert admin_client.get("/audit/", {"page": "nonsense"}).status_code == 200  # falls back to page 1


def test_htmx_request_gets_the_partial(admin_client, admin_user) -> None:
    _team("Partial", admin_user)
    response = admin_client.get("/audit/", {"table": "accounts_team"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body and "/audit/entry/" in body


def test_entry_shows_old_and_new_side_by_side_with_changes_highlighted(admin_client, admin_user) -> None:
    team = _team("Before", admin_user)
    with db_context(DbContext(user_id=str(admin_user.pk), role="system", ip="203.0.113.5", request_id="req-rename")):
        Team.objects.filter(pk=team.pk).update(name="After")
    with db_context(DbContext(user_id=str(admin_user.pk), role="system")):
        entry = AuditLog.objects.get(table_name="accounts_team", record_id=str(team.pk), operation="UPDATE")
    body = admin_client.get(reverse("audit:entry", args=[entry.pk])).content.decode()
    assert '<tr class="diff-changed">' in body
    changed_row = body.split('<tr class="diff-changed">')[1].split("</tr>")[0]
    assert "<code>name</code>" in changed_row and "Before" in changed_row and "After" in changed_row
    assert body.count('class="diff-changed"') == 1  # only the name changed
    assert "203.0.113.5" in body and "req-rename" in body
    assert admin_client.get(reverse("audit:entry", args=[entry.pk + 10_000])).status_code == 404
    assert admin_client.get(reverse("audit:entry", args=[entry.pk]), {"source": "mars"}).status_code == 400


def test_history_of_a_record_with_companion_tables(admin_client, admin_user) -> None:
    from audit.services import audit_content_record

    team = _team("History", admin_user)
    with db_context(DbContext(user_id=str(admin_user.pk), role="system")):
        Team.objects.filter(pk=team.pk).update(name="History 2")
        audit_content_record(table="team_profile", record_id=team.pk, operation="INSERT", old=None, new={"bio": "b"})
        _team("Unrelated", admin_user)
    url = reverse("audit:history", args=["accounts_team", team.pk])
    body = admin_client.get(url).content.decode()
    assert body.count('class="card audit-history-entry"') == 2 and "History 2" in body
    both = admin_client.get(url, {"also": "team_profile"}).content.decode()
    assert both.count('class="card audit-history-entry"') == 3 and "team_profile" in both
    assert admin_client.get(url, {"also": "Bad-Name"}).status_code == 400
    assert admin_client.post(url).status_code == 405


def test_history_link_tag_renders_for_admins_only(admin_user, make_user) -> None:
    template = Template('{% load audit_tags %}{% audit_history_link "tasks_task" rid also="task_detail" %}')
    request = RequestFactory().get("/")
    request.user = admin_user
    html = template.render(Context({"request": request, "rid": "abc-123"}))
    assert 'href="/audit/history/tasks_task/abc-123/?also=task_detail"' in html and ">History</a>" in html
    request.user = make_user("staff")
    assert template.render(Context({"request": request, "rid": "abc-123"})).strip() == ""
    include = Template('{% include "audit/partials/history_link.html" with table="bookings_booking" record_id=7 %}')
    request.user = admin_user
    assert 'href="/audit/history/bookings_booking/7/"' in include.render(Context({"request": request}))


def test_django_admin_lists_the_log_read_only(admin_client, admin_user, make_user) -> None:
    team = _team("Admin view", admin_user)
    changelist = admin_client.get("/admin/audit/auditlog/")
    assert changelist.status_code == 200 and "accounts_team" in changelist.content.decode()
    with db_context(DbContext(user_id=str(admin_user.pk), role="system")):
        entry = AuditLog.objects.get(table_name="accounts_team", record_id=str(team.pk))
    assert admin_client.get(f"/admin/audit/auditlog/{entry.pk}/change/").status_code == 200  # view only
    assert admin_client.get("/admin/audit/auditlog/add/").status_code == 403
    assert admin_client.post(f"/admin/audit/auditlog/{entry.pk}/change/", {"operation": "X"}).status_code == 403
    assert admin_client.post(f"/admin/audit/auditlog/{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    assert admin_client.get("/admin/audit/auditlogarchive/").status_code == 200
    with db_context(DbContext(user_id=str(admin_user.pk), role="system")):
        assert AuditLog.objects.filter(pk=entry.pk, operation="INSERT").exists()


def test_every_capability_but_site_admin_keeps_the_audit_log_shut(client, make_user) -> None:
    """The admin and the audit rows follow the site_admin capability alone."""
    user = make_user("staff")  # booking desk, catalogue editor, reports reader, team creator
    _team("Secret", user)
    client.force_login(user)
    assert client.get("/admin/audit/auditlog/").status_code == 403
    with db_context(DbContext(user_id=str(user.pk), role="user")):
        assert not AuditLog.objects.exists()


def test_diff_of_an_update_lists_only_changed_fields() -> None:
    from audit.diff import changed_fields, diff_rows, unchanged_count

    rows = diff_rows({"a": 1, "b": "x", "gone": 1}, {"a": 1, "b": "y", "new": [1]})
    assert [(r.field, r.old, r.new, r.changed) for r in rows] == [
        ("b", "x", "y", True),
        ("gone", "1", "", True),
        ("new", "", "[1]", True),
    ]
    assert unchanged_count({"a": 1, "b": "x", "gone": 1}, {"a": 1, "b": "y", "new": [1]}) == 1
    assert unchanged_count(None, {"a": 1}) == 0
    assert changed_fields({"a": 1, "b": 2}, {"a": 1, "b": 3}) == ["b"]
    assert [r.changed for r in diff_rows(None, {"a": 1})] == [False] and changed_fields(None, {"a": 1}) == ["a"]
    assert changed_fields({"a": 1}, None) == ["a"]


def test_history_works_for_any_record_id_and_refuses_bad_table_names(admin_client, admin_user) -> None:
    from audit.services import audit_content_record

    with db_context(DbContext(user_id=str(admin_user.pk), role="system")):
        audit_content_record(table="odd_ids", record_id="a/b c?d", operation="INSERT", old=None, new={"x": 1})
    listing = admin_client.get("/audit/", {"table": "odd_ids"})
    assert listing.status_code == 200
    url = reverse("audit:history", args=["odd_ids", "a/b c?d"])
    body = admin_client.get(url).content.decode()
    assert body.count('class="card audit-history-entry"') == 1
    assert admin_client.get("/audit/history/Bad.Table/1/").status_code == 400


def test_entries_without_a_record_id_still_render(admin_client, admin_user) -> None:
    from django.db import connection

    with db_context(DbContext(user_id=str(admin_user.pk), role="system")), connection.cursor() as cursor:
        cursor.execute("SELECT audit_record_content('keyless', '', 'INSERT', NULL, '{\"x\": 1}'::jsonb)")
        entry_id = AuditLog.objects.get(table_name="keyless").pk
    assert "(no id)" in admin_client.get("/audit/", {"table": "keyless"}).content.decode()
    assert admin_client.get(f"/audit/entry/{entry_id}/").status_code == 200
    assert admin_client.get("/admin/audit/auditlog/").status_code == 200


def test_entry_page_shows_only_changed_fields_and_table_labels(admin_client, admin_user) -> None:
    """An update lists what changed (not every column), and tables read as "Team", not accounts_team."""
    import html
    import re

    team = _team("Night shift", admin_user)
    with db_context(DbContext(user_id=str(admin_user.pk), role="system")):
        Team.objects.filter(pk=team.pk).update(name="Day shift")
        update = AuditLog.objects.get(table_name="accounts_team", operation="UPDATE")
    page = admin_client.get(f"/audit/entry/{update.pk}/").content.decode()
    diff = page.split('class="audit-diff"', 1)[1].split("</table>", 1)[0]
    assert diff.count("<tr") == 2  # the header and the one changed field
    assert "Night shift" in diff and "Day shift" in diff and ">slug<" not in diff
    unchanged = len(update.new_values) - 1
    assert f"{unchanged} unchanged fields not shown." in page

    def text(body: str) -> str:
        return html.unescape(re.sub(r"<[^>]+>", " ", body.split("<main", 1)[1]))

    assert "UPDATE Team #" in " ".join(text(page).split()) and "accounts_team" not in text(page)
    listing = admin_client.get("/audit/", {"table": "accounts_team"}).content.decode()
    assert "accounts_team" not in text(listing).split("Filter", 1)[1] and "Team" in text(listing)
    history = admin_client.get(f"/audit/history/accounts_team/{team.pk}/").content.decode()
    assert "History of Team #" in " ".join(text(history).split()) and "accounts_team" not in text(history)


@pytest.mark.parametrize(
    ("table", "label"),
    [
        ("tasks_task", "Task"),
        ("bookings_booking", "Booking"),
        ("accounts_team", "Team"),
        ("task_detail", "Task detail"),
    ],
)
def test_table_label_uses_the_models_verbose_name(table: str, label: str) -> None:
    from audit.schema import table_label

    assert table_label(table) == label
