"""profile_patch: some fields changed, the rest kept from the newest state; a stale
expected version is refused (412) and changes nothing."""

from __future__ import annotations

import pytest

from accounts.services.profile import profile_patch, profile_state, profile_update
from taskforge.errors import ServiceError
from taskforge.testing.personas import acting

pytestmark = pytest.mark.django_db


def test_patch_keeps_what_it_does_not_name(people) -> None:
    user = people.traveller
    with acting(user):
        profile_update(
            user=user, first_name="Ada", last_name="L", bio="old", theme="dark",
            notify_email=False, notify_in_app=True, email_cadence="daily",
        )  # fmt: skip
        state = profile_patch(user=user, changes={"bio": "new", "notify_in_app": False})
    assert state["bio"] == "new" and state["first_name"] == "Ada"
    assert state["preferences"] == {
        "theme": "dark",
        "channels": {"email": False, "in_app": False},
        "email_cadence": "daily",
        "time_zone": "UTC",
    }


def test_stale_version_is_refused_and_changes_nothing(people) -> None:
    user = people.traveller
    with acting(user):
        read_at = user.profile_version
        profile_patch(user=user, changes={"bio": "first"}, expected_version=read_at)
        with pytest.raises(ServiceError) as refused:
            profile_patch(user=user, changes={"bio": "second"}, expected_version=read_at)
        assert refused.value.status == 412
        assert profile_state(user)["bio"] == "first"
        with pytest.raises(ServiceError, match="cannot be changed"):
            profile_patch(user=user, changes={"email": "x@example.com"})
