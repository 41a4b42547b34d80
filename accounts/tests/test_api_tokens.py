"""Personal access tokens on the profile page: created (shown once, stored hashed), listed,
revoked; and the token service's rules."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import ApiToken
from accounts.services.api_tokens import api_token_authenticate, api_token_create, api_token_hash
from taskforge.errors import NotFound, ServiceError
from taskforge.testing.personas import acting

pytestmark = pytest.mark.django_db

SECRET_RE = re.compile(r"tf_[0-9a-f]{8}_[A-Za-z0-9_-]{43}")


def _signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_create_shows_the_secret_once_and_stores_only_its_hash(people) -> None:
    client = _signed_in(people.traveller)
    response = client.post("/accounts/profile/tokens/", {"name": "CI", "scope": "read_write"})
    assert response.status_code == 201
    secret = SECRET_RE.search(response.content.decode()).group(0)
    assert response["Cache-Control"].startswith("max-age=0") or "no-store" in response["Cache-Control"]
    with acting(people.traveller):
        token = ApiToken.objects.get(user=people.traveller)
    assert token.secret_hash == api_token_hash(secret) and secret not in token.secret_hash
    assert token.scope == "read_write" and token.prefix in secret
    page = client.get("/accounts/profile/").content.decode()
    assert "CI" in page and f"tf_{token.prefix}_" in page and secret not in page


def test_invalid_input_keeps_the_form_with_messages(people) -> None:
    client = _signed_in(people.traveller)
    response = client.post("/accounts/profile/tokens/", {"name": "", "scope": "admin"})
    assert response.status_code == 400
    past = (timezone.now() - dt.timedelta(days=2)).date().isoformat()
    response = client.post("/accounts/profile/tokens/", {"name": "old", "scope": "read", "expires_on": past})
    assert response.status_code == 400 and "must be in the future" in response.content.decode()
    with acting(people.traveller):
        assert not ApiToken.objects.filter(user=people.traveller).exists()


def test_revoke_own_token_and_not_someone_elses(people) -> None:
    with acting(people.traveller):
        mine = api_token_create(user=people.traveller, name="mine", scope="read")
    with acting(people.other_traveller):
        theirs = api_token_create(user=people.other_traveller, name="theirs", scope="read")
    client = _signed_in(people.traveller)
    assert client.post(f"/accounts/profile/tokens/{theirs.token.pk}/revoke/").status_code == 404
    assert api_token_authenticate(secret=theirs.secret, ip="127.0.0.1") is not None
    response = client.post(f"/accounts/profile/tokens/{mine.token.pk}/revoke/")
    assert response.status_code == 302
    assert api_token_authenticate(secret=mine.secret, ip="127.0.0.1") is None
    assert client.post(f"/accounts/profile/tokens/{mine.token.pk}/revoke/").status_code == 404
    assert client.post("/accounts/profile/tokens/99999999999999999999/revoke/").status_code == 404


def test_anonymous_visitors_cannot_create_tokens(people) -> None:
    response = Client().post("/accounts/profile/tokens/", {"name": "x", "scope": "read"})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_a_person_sees_only_their_own_tokens_in_the_database(people) -> None:
    with acting(people.traveller):
        api_token_create(user=people.traveller, name="mine", scope="read")
    with acting(people.other_traveller):
        assert ApiToken.objects.count() == 0
    with acting(None):
        assert ApiToken.objects.count() == 0
    with acting(people.traveller):
        assert ApiToken.objects.count() == 1


def test_expiry_rules(people) -> None:
    with acting(people.traveller), pytest.raises(ServiceError, match="at most a year"):
        api_token_create(
            user=people.traveller, name="x", scope="read", expires_at=timezone.now() + dt.timedelta(days=400)
        )
    with acting(people.traveller):
        created = api_token_create(
            user=people.traveller, name="x", scope="read", expires_at=timezone.now() + dt.timedelta(days=30)
        )
    assert api_token_authenticate(secret=created.secret, ip="") is not None


def test_revoke_service_refuses_unknown_ids(people) -> None:
    from accounts.services.api_tokens import api_token_revoke

    with acting(people.traveller), pytest.raises(NotFound):
        api_token_revoke(user=people.traveller, token_id=0)
