"""Each person's time zone (issue 19): a profile preference validated against zoneinfo, kept
when a form does not name it, and activated for every request of theirs (dates are stored in
UTC, entered and shown in it)."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from accounts.selectors import preferences_normalise, profile_preferences
from accounts.services.profile import profile_update
from sync.relay import relay_sweep
from taskforge.errors import ServiceError
from taskforge.testing.personas import person_create

pytestmark = pytest.mark.django_db
FORM = {
    "first_name": "Ruth",
    "last_name": "Quill",
    "bio": "",
    "theme": "system",
    "notify_email": "on",
    "notify_in_app": "on",
    "email_cadence": "daily",
}


@pytest.fixture
def person():
    return person_create("member", "ruth-tz@example.com")


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_time_zone_is_chosen_on_the_profile_and_kept_by_other_saves(person, django_capture_on_commit_callbacks):
    client = _client(person)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("accounts:profile"), {**FORM, "time_zone": "Pacific/Auckland"})
    assert response.status_code == 302
    relay_sweep()
    assert profile_preferences(person.pk)["time_zone"] == "Pacific/Auckland"
    # A save that does not name a time zone (the theme switch, "Keep my time zone") keeps it.
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("accounts:profile"), {**FORM, "theme": "dark", "time_zone": ""})
    relay_sweep()
    prefs = profile_preferences(person.pk)
    assert (prefs["theme"], prefs["time_zone"]) == ("dark", "Pacific/Auckland")
    page = client.get(reverse("accounts:profile")).content.decode()
    assert '<option value="Pacific/Auckland" selected>' in page


@pytest.mark.parametrize("bad", ["Mars/Olympus", "utc ", "../etc/passwd", "x" * 300])
def test_an_unknown_time_zone_is_refused_with_a_clear_message(person, bad):
    response = _client(person).post(reverse("accounts:profile"), {**FORM, "time_zone": bad})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    with pytest.raises(ServiceError, match="Choose a time zone"):
        profile_update(user=person, **{**FORM, "notify_email": True, "notify_in_app": True}, time_zone=bad)
    assert profile_preferences(person.pk)["time_zone"] == "UTC"


def test_a_stored_zone_that_is_not_valid_reads_as_utc():
    assert preferences_normalise({"time_zone": "Nowhere/Land"})["time_zone"] == "UTC"
    assert preferences_normalise({"time_zone": "Asia/Kolkata"})["time_zone"] == "Asia/Kolkata"
    assert preferences_normalise(None)["time_zone"] == "UTC"


def test_a_profile_cached_by_the_previous_release_is_not_read(people) -> None:
    # Found by bench.tasks after an upgrade: every page answered 500 (KeyError "time_zone")
    # for an hour, reading profiles cached without the time zone under the old key.
    user = people.traveller
    cache.set(f"user:profile:{user.pk}", {"preferences": {"theme": "dark"}}, 3600)
    assert profile_preferences(user.pk)["time_zone"] == "UTC"
