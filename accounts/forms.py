"""Forms of the accounts app: input parsing and field validation only (rules live in services)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.forms import PasswordResetForm
from django.db import transaction
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts import emails
from accounts.models import CADENCES, THEMES, ApiTokenScope, Capability, TeamRole, User
from accounts.permissions import PERMISSIONS
from accounts.selectors import time_zones
from accounts.validators import PASSWORD_MAX_LENGTH, PASSWORD_TOO_LONG
from taskforge.widgets import DateInput


def _password_field(**kwargs: Any) -> forms.CharField:
    """A password input capped at the one maximum (accounts.validators), with its message."""
    return forms.CharField(
        max_length=PASSWORD_MAX_LENGTH, strip=False, error_messages={"max_length": PASSWORD_TOO_LONG}, **kwargs
    )


class SignInForm(forms.Form):
    email = forms.EmailField(
        max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True})
    )
    password = _password_field(widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))


class _NewPasswordMixin(forms.Form):
    password1 = _password_field(
        label="Password",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=f"At least 10 characters and at most {PASSWORD_MAX_LENGTH}; long passphrases are welcome.",
    )
    password2 = _password_field(
        label="Password again", widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )

    def _user_for_validation(self) -> User:
        return User(email=self.cleaned_data.get("email", ""), display_name=self.cleaned_data.get("display_name", ""))

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        p1, p2 = data.get("password1"), data.get("password2")
        if p1 and p2 and p1 != p2:
            self.add_error("password2", "The two passwords differ.")
        elif p1:
            try:
                password_validation.validate_password(p1, self._user_for_validation())
            except forms.ValidationError as exc:
                self.add_error("password1", exc)
        return data


class RegisterForm(_NewPasswordMixin):
    first_name = forms.CharField(max_length=100)
    last_name = forms.CharField(max_length=100, required=False)
    email = forms.EmailField(max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    field_order = ["first_name", "last_name", "email", "password1", "password2"]

    def _user_for_validation(self) -> User:
        data = self.cleaned_data
        return User(
            email=data.get("email", ""),
            display_name=f"{data.get('first_name', '')} {data.get('last_name', '')}".strip(),
        )


class ResendVerificationForm(forms.Form):
    email = forms.EmailField(max_length=254)


class InvitationAccountForm(_NewPasswordMixin):
    display_name = forms.CharField(label="Your name", max_length=150)
    field_order = ["display_name", "password1", "password2"]

    def __init__(self, *args: Any, email: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.email = email

    def _user_for_validation(self) -> User:
        return User(email=self.email, display_name=self.cleaned_data.get("display_name", ""))


class ProfileForm(forms.Form):
    first_name = forms.CharField(max_length=100, required=False)
    last_name = forms.CharField(max_length=100, required=False)
    bio = forms.CharField(max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 4}))
    theme = forms.ChoiceField(choices=[(t, t.capitalize()) for t in THEMES])
    notify_email = forms.BooleanField(label="Email notifications", required=False)
    notify_in_app = forms.BooleanField(label="In-app notifications", required=False)
    email_cadence = forms.ChoiceField(label="Email cadence", choices=[(c, c.capitalize()) for c in CADENCES])
    time_zone = forms.ChoiceField(
        label="Time zone",
        choices=lambda: [("", "Keep my time zone")] + [(z, z.replace("_", " ")) for z in sorted(time_zones())],
        required=False,
        initial="UTC",
        help_text="Dates and times are shown, and entered, in this time zone.",
    )


class ThemeForm(forms.Form):
    theme = forms.ChoiceField(choices=[(t, t.capitalize()) for t in THEMES])


class AvatarForm(forms.Form):
    # A FileField, not ImageField: the service checks and re-encodes with Pillow itself.
    avatar = forms.FileField(label="Picture", widget=forms.ClearableFileInput(attrs={"accept": "image/*"}))


class DeleteAccountForm(forms.Form):
    password = _password_field(widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))
    confirm = forms.BooleanField(label="I understand this cannot be undone.")


class TeamForm(forms.Form):
    name = forms.CharField(max_length=120)
    slug = forms.SlugField(
        label="Short name (for links)",
        max_length=140,
        required=False,
        help_text="Letters, digits and hyphens; made from the name if left empty.",
    )
    description = forms.CharField(max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 3}))


class InviteForm(forms.Form):
    email = forms.EmailField(max_length=254)
    role = forms.ChoiceField(choices=TeamRole.choices, initial=TeamRole.MEMBER)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=TeamRole.choices)


class RolePermissionsForm(forms.Form):
    """One checkbox per (role, permission): field name "<role>:<permission>"."""

    def __init__(self, *args: Any, table: dict[str, frozenset[str]] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        table = table or {}
        for role in TeamRole.values:
            for perm in PERMISSIONS:
                self.fields[f"{role}:{perm}"] = forms.BooleanField(
                    required=False, initial=perm in table.get(role, frozenset())
                )

    def grants(self) -> dict[str, set[str]]:
        result: dict[str, set[str]] = {role: set() for role in TeamRole.values}
        for name, value in self.cleaned_data.items():
            if value:
                role, perm = name.split(":", 1)
                result[role].add(perm)
        return result


class EmailPasswordResetForm(PasswordResetForm):
    """Django's reset form, sending through the mail queue (one email per matching account)."""

    def save(self, *args: Any, **kwargs: Any) -> None:
        token_generator = kwargs["token_generator"]
        with transaction.atomic():
            for user in self.get_users(self.cleaned_data["email"]):
                path = reverse(
                    "accounts:password_reset_confirm",
                    kwargs={
                        "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
                        "token": token_generator.make_token(user),
                    },
                )
                emails.password_reset_email(user_id=user.pk, name=user.display_name, reset_path=path)


class PeopleSearchForm(forms.Form):
    q = forms.CharField(label="Search by email or name", max_length=200, required=False)
    page = forms.IntegerField(min_value=1, max_value=100_000, required=False)


class CapabilitiesForm(forms.Form):
    capabilities = forms.MultipleChoiceField(
        label="Site capabilities",
        choices=[(c.value, c.label) for c in Capability],
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )


class ApiTokenForm(forms.Form):
    """A new personal access token (the rules, such as the longest expiry, are in the service)."""

    name = forms.CharField(max_length=80, help_text="What it is for, e.g. “CI sync script”.")
    scope = forms.ChoiceField(
        choices=ApiTokenScope.choices, initial=ApiTokenScope.READ, help_text="Read tokens may only read."
    )
    expires_on = forms.DateField(
        required=False, widget=DateInput, label="Expires on", help_text="Optional; at most a year ahead."
    )
