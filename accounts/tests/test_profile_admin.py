"""The Django admin of profiles (MongoDB content): site admins list, search, view and edit them
through the profile service (outbox + content audit, so no drift); everyone else is refused."""

from __future__ import annotations

import pytest
from django.db import connection

from accounts.models import Profile
from accounts.services.profile import profile_update
from accounts.tests.conftest import client_for
from sync.models import OutboxEvent
from taskforge.dbcontext import DbContext, db_context
from taskforge.mongo import documents_collection

pytestmark = pytest.mark.django_db

FORM = {
    "first_name": "Grace",
    "last_name": "Hopper",
    "bio": "Compilers.",
    "theme": "light",
    "notify_in_app": "on",
    "email_cadence": "weekly",
}


def _profile(user, capture, **changes) -> None:
    fields = {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "bio": "Engines.",
        "theme": "dark",
        "notify_email": True,
        "notify_in_app": True,
        "email_cadence": "daily",
    }
    with capture(execute=True):
        profile_update(user=user, **{**fields, **changes})


def test_site_admins_list_search_and_view_profiles(world, django_capture_on_commit_callbacks) -> None:
    _profile(world.member, django_capture_on_commit_callbacks)
    _profile(world.guest, django_capture_on_commit_callbacks, first_name="Bea", last_name="Quill")
    client = client_for(world.site_admin)
    listing = client.get("/admin/accounts/profile/")
    assert listing.status_code == 200 and b"Lovelace" in listing.content and b"Quill" in listing.content
    found = client.get("/admin/accounts/profile/", {"q": "quill"})
    assert found.status_code == 200 and b"Quill" in found.content and b"Lovelace" not in found.content
    page = client.get(f"/admin/accounts/profile/{world.member.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'value="Ada"' in html and f"/admin/accounts/user/{world.member.pk}/change/" in html
    assert 'name="avatar"' not in html and 'name="version"' not in html  # read-only, changed elsewhere
    assert '<option value="daily" selected>' in html and '<option value="dark" selected>' in html
    assert client.get("/admin/accounts/profile/add/").status_code == 403
    assert client.get(f"/admin/accounts/profile/{world.member.pk}/delete/").status_code == 403


def test_an_admin_edit_goes_through_the_outbox_and_is_audited(world, django_capture_on_commit_callbacks) -> None:
    member = world.member
    _profile(member, django_capture_on_commit_callbacks)
    client = client_for(world.site_admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/admin/accounts/profile/{member.pk}/change/", FORM)
    assert response.status_code == 302, response.content[:2000]
    member.refresh_from_db()
    assert member.profile_version == 2 and member.display_name == "Grace Hopper"
    event = OutboxEvent.objects.get(aggregate_type="profile", aggregate_id=str(member.pk), version=2)
    assert event.status == "applied"
    doc = Profile.objects.get(pk=member.pk)
    assert (doc.version, doc.first_name, doc.bio) == (2, "Grace", "Compilers.")
    prefs = doc.preferences
    assert (prefs.theme, prefs.channels.email, prefs.channels.in_app, prefs.email_cadence) == (
        "light",
        False,
        True,
        "weekly",
    )
    with db_context(DbContext(user_id="1", role="system")), connection.cursor() as cursor:
        cursor.execute(
            "SELECT operation, new_values->>'first_name', user_id FROM audit_log"
            " WHERE table_name = 'accounts_profile' AND record_id = %s ORDER BY id",
            [str(member.pk)],
        )
        rows = cursor.fetchall()
    assert rows[-1] == ("UPDATE", "Grace", world.site_admin.pk)  # the admin is the actor


def test_bad_admin_input_is_refused_with_a_message_and_changes_nothing(
    world, django_capture_on_commit_callbacks
) -> None:
    _profile(world.member, django_capture_on_commit_callbacks)
    client = client_for(world.site_admin)
    response = client.post(f"/admin/accounts/profile/{world.member.pk}/change/", {**FORM, "theme": "neon"})
    assert response.status_code == 200 and b"Select a valid choice" in response.content
    response = client.post(f"/admin/accounts/profile/{world.member.pk}/change/", {**FORM, "bio": "x" * 2001})
    assert response.status_code == 200 and b"at most 2000 characters" in response.content
    world.member.refresh_from_db()
    assert world.member.profile_version == 1
    assert Profile.objects.get(pk=world.member.pk).first_name == "Ada"


def test_an_erased_profile_is_read_only(world, django_capture_on_commit_callbacks) -> None:
    documents_collection(Profile).insert_one({"_id": world.guest.pk, "version": 3, "deleted": True})
    client = client_for(world.site_admin)
    page = client.get(f"/admin/accounts/profile/{world.guest.pk}/change/")
    assert page.status_code == 200 and 'name="first_name"' not in page.content.decode()
    response = client.post(f"/admin/accounts/profile/{world.guest.pk}/change/", FORM)
    assert response.status_code == 403
    assert not OutboxEvent.objects.filter(aggregate_type="profile").exists()


@pytest.mark.parametrize("who", ["member", "team_admin", "traveller"])
def test_everyone_but_site_admins_is_refused(world, who, django_capture_on_commit_callbacks) -> None:
    _profile(world.member, django_capture_on_commit_callbacks)
    client = client_for(getattr(world, who))
    for path in (
        "/admin/accounts/profile/",
        "/admin/accounts/profile/?q=Ada",
        f"/admin/accounts/profile/{world.member.pk}/change/",
    ):
        assert client.get(path).status_code == 403, path
    assert client.post(f"/admin/accounts/profile/{world.member.pk}/change/", FORM).status_code == 403
    world.member.refresh_from_db()
    assert world.member.profile_version == 1
    assert client_for(None).get("/admin/accounts/profile/").status_code == 302  # anonymous: sign in first
