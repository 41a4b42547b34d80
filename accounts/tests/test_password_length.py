"""One maximum password length everywhere (issue 14, item 4): a password that can be set can
always be typed in again at sign-in. Registration, invitation acceptance, change and reset
refuse a longer one with a clear message; a password of exactly the maximum signs in."""

from __future__ import annotations

import pytest
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.test import Client

from accounts.forms import SignInForm
from accounts.models import User
from accounts.tests.conftest import client_for, queued_link
from accounts.validators import PASSWORD_MAX_LENGTH, PASSWORD_TOO_LONG

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"
MESSAGE = PASSWORD_TOO_LONG.encode()


def _passphrase(length: int) -> str:
    """A passphrase of exactly `length` characters that passes the other validators."""
    words = "violet tugboat ledger quartz marmalade "
    return (words * (length // len(words) + 1))[:length]


LONGEST = _passphrase(PASSWORD_MAX_LENGTH)
TOO_LONG = _passphrase(PASSWORD_MAX_LENGTH + 1)
WAY_TOO_LONG = _passphrase(300)


def _sign_in(email: str, password: str) -> int:
    return Client().post("/accounts/login/", {"email": email, "password": password}).status_code


def test_the_maximum_is_one_configured_validator_shared_by_the_sign_in_form() -> None:
    assert len(LONGEST) == PASSWORD_MAX_LENGTH and len(TOO_LONG) == PASSWORD_MAX_LENGTH + 1
    password_validation.validate_password(LONGEST)
    with pytest.raises(ValidationError) as refused:
        password_validation.validate_password(TOO_LONG)
    assert refused.value.messages == [PASSWORD_TOO_LONG]
    assert SignInForm.base_fields["password"].max_length == PASSWORD_MAX_LENGTH
    assert any(str(PASSWORD_MAX_LENGTH) in text for text in password_validation.password_validators_help_texts())


def test_registration_refuses_an_over_long_password_with_a_message(client: Client) -> None:
    data = {"first_name": "Lena", "email": "lena@example.com", "password1": TOO_LONG, "password2": TOO_LONG}
    response = client.post("/accounts/register/", data)
    assert response.status_code == 400 and MESSAGE in response.content
    assert not User.objects.filter(email="lena@example.com").exists()


def test_password_change_refuses_an_over_long_password(make_user) -> None:
    user = make_user("traveller", email="long.change@example.com", email_verified=True)
    response = client_for(user).post(
        "/accounts/password/",
        {"old_password": PASSWORD, "new_password1": WAY_TOO_LONG, "new_password2": WAY_TOO_LONG},
    )
    assert response.status_code == 400 and MESSAGE in response.content
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    assert _sign_in(user.email, PASSWORD) == 302


def test_password_reset_refuses_an_over_long_password(make_user) -> None:
    user = make_user("traveller", email="long.reset@example.com", email_verified=True)
    anonymous = Client()
    assert anonymous.post("/accounts/password/reset/", {"email": user.email}).status_code == 302
    form_page = anonymous.get(queued_link("password_reset", key="reset_url", user_id=user.pk), follow=True)
    assert form_page.status_code == 200
    response = anonymous.post(
        form_page.redirect_chain[-1][0], {"new_password1": WAY_TOO_LONG, "new_password2": WAY_TOO_LONG}
    )
    assert response.status_code == 400 and MESSAGE in response.content
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_invitation_acceptance_refuses_an_over_long_password(make_user) -> None:
    from accounts.services import team_create

    admin = make_user("team_creator", email="inviter@example.com")
    team_create(user=admin, name="Long Words", slug="long-words")
    assert (
        client_for(admin)
        .post("/teams/long-words/invite/", {"email": "newbie@example.com", "role": "guest"})
        .status_code
        == 302
    )
    link = queued_link("invitation", key="accept_url", email="newbie@example.com")
    response = Client().post(link, {"display_name": "New Bie", "password1": TOO_LONG, "password2": TOO_LONG})
    assert response.status_code == 400 and MESSAGE in response.content
    assert not User.objects.filter(email="newbie@example.com").exists()


def test_sign_in_refuses_an_over_long_password_with_the_same_message(make_user) -> None:
    user = make_user("traveller", email="long.signin@example.com", email_verified=True)
    response = Client().post("/accounts/login/", {"email": user.email, "password": TOO_LONG})
    assert response.status_code == 400 and MESSAGE in response.content


def test_a_password_of_the_maximum_length_can_be_set_and_signs_in(make_user) -> None:
    user = make_user("traveller", email="longest@example.com", email_verified=True)
    response = client_for(user).post(
        "/accounts/password/", {"old_password": PASSWORD, "new_password1": LONGEST, "new_password2": LONGEST}
    )
    assert response.status_code == 302
    assert _sign_in(user.email, LONGEST) == 302
    assert _sign_in(user.email, LONGEST[:-1]) == 400
