"""The resources' answers: teams, members and invitations as the team pages show them, and
the trip catalogue's search, filters, pages and details."""

from __future__ import annotations

import pytest

from api.tests.conftest import bearer, trip_make

pytestmark = pytest.mark.django_db


def test_team_detail_members_and_invitations(api, people, token_for) -> None:
    secret = token_for(people.team_admin)
    team = api.get(f"/api/v1/teams/{people.x.slug}/", **bearer(secret)).json()
    assert team["your_role"] == "admin" and team["can_invite"] and team["can_manage"] and team["member_count"] == 3
    members = api.get(f"/api/v1/teams/{people.x.slug}/members/", **bearer(secret)).json()["results"]
    assert [m["role"] for m in members] == ["admin", "member", "guest"]
    created = api.post(
        f"/api/v1/teams/{people.x.slug}/invitations/", {"email": "Grace@Example.com", "role": "guest"}, **bearer(secret)
    )
    assert created.status_code == 201
    assert created.json()["email"] == "grace@example.com" and "token" not in created.json()
    listed = api.get(f"/api/v1/teams/{people.x.slug}/invitations/", **bearer(secret)).json()["results"]
    assert [i["email"] for i in listed] == ["grace@example.com"]
    revoked = api.delete(f"/api/v1/teams/{people.x.slug}/invitations/{created.json()['id']}/", **bearer(secret))
    assert revoked.status_code == 204
    assert api.get(f"/api/v1/teams/{people.x.slug}/invitations/", **bearer(secret)).json()["results"] == []


def test_member_role_change_and_removal_follow_the_team_service(api, people, token_for) -> None:
    secret = token_for(people.team_admin)
    url = f"/api/v1/teams/{people.x.slug}/members/{people.team_guest.pk}/"
    changed = api.patch(url, {"role": "member"}, **bearer(secret))
    assert changed.status_code == 200 and changed.json()["role"] == "member"
    assert api.patch(url, {"role": "owner"}, **bearer(secret)).status_code == 400
    assert api.delete(url, **bearer(secret)).status_code == 204
    assert api.delete(url, **bearer(secret)).status_code == 404
    # An admin may not invite as admin without team.manage... the member may not invite at all.
    member = token_for(people.team_member)
    refused = api.post(f"/api/v1/teams/{people.x.slug}/invitations/", {"email": "a@example.com"}, **bearer(member))
    assert refused.status_code == 403 and refused["Content-Type"] == "application/problem+json"


def test_trip_search_filters_pages_and_details(api, people) -> None:
    for n in range(3):
        trip_make(people.catalogue_editor, f"WALK-{n}")
    trip_make(people.catalogue_editor, "HIDE-1", active=False)
    everything = api.get("/api/v1/trips/").json()
    assert {t["code"] for t in everything["results"]} == {"WALK-0", "WALK-1", "WALK-2"}
    assert everything["mode"] == "list" and everything["next"] is None and everything["total"] == 3
    found = api.get("/api/v1/trips/?q=lakes").json()
    assert found["mode"] == "search" and "<mark>" in found["results"][0]["snippet_html"]
    assert api.get("/api/v1/trips/?length_min=8").json()["results"] == []
    bad = api.get("/api/v1/trips/?price_min=abc&start_from=tomorrow")
    assert bad.status_code == 400 and {e["field"] for e in bad.json()["errors"]} == {"price_min", "start_from"}
    detail = api.get("/api/v1/trips/WALK-1/").json()
    assert detail["bookable"] and detail["seats_left"] == 10 and detail["keywords"] == ["lakes", "walking"]
    assert detail["next_departure"] == detail["start"]
    assert "<strong>lakes</strong>" in detail["description_html"] and not detail["details_pending"]
    assert api.get("/api/v1/trips/HIDE-1/").status_code == 404
    assert api.get("/api/v1/trips/NOPE-9/").status_code == 404


def test_trip_pages_follow_the_cursor(api, people, settings) -> None:
    from bookings import selectors

    for n in range(selectors.PER_PAGE + 2):
        trip_make(people.catalogue_editor, f"PAGE-{n}")
    first = api.get("/api/v1/trips/?sort=name").json()
    assert len(first["results"]) == selectors.PER_PAGE and first["next"]
    second = api.get(first["next"]).json()
    assert len(second["results"]) == 2 and second["next"] is None and second["previous"]
    codes = [t["code"] for t in first["results"] + second["results"]]
    assert len(set(codes)) == selectors.PER_PAGE + 2
    assert api.get("/api/v1/trips/?cursor=forged").status_code == 404


def test_trip_answers_are_cached_until_a_trip_changes(api, people, monkeypatch) -> None:
    from bookings import selectors

    search = selectors.catalogue_page
    calls = []
    monkeypatch.setattr(selectors, "catalogue_page", lambda *a, **k: calls.append(a) or search(*a, **k))
    trip_make(people.catalogue_editor, "CACHE-1")
    assert [t["code"] for t in api.get("/api/v1/trips/?sort=name").json()["results"]] == ["CACHE-1"]
    assert api.get("/api/v1/trips/?sort=name").status_code == 200
    assert len(calls) == 1  # the second answer came from the cache
    trip_make(people.catalogue_editor, "CACHE-2")  # the projection change retires the cache
    assert [t["code"] for t in api.get("/api/v1/trips/?sort=name").json()["results"]] == ["CACHE-1", "CACHE-2"]
