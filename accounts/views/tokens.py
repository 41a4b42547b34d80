"""Personal access tokens on the profile page: create (the secret is shown once, in the
answer to the POST, and never again), list, revoke — like "Your sessions"."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.forms import ApiTokenForm, ProfileForm
from accounts.services.api_tokens import api_token_create, api_token_revoke
from accounts.views.profile import profile_context
from taskforge.errors import ServiceError, form_refusal


def _page(request: HttpRequest, token_form: ApiTokenForm, status: int = 200, **extra: Any) -> HttpResponse:
    context = profile_context(request)
    context.setdefault("form", ProfileForm(initial=context["initial"]))
    return render(request, "accounts/profile.html", {**context, "token_form": token_form, **extra}, status=status)


@login_required
@require_POST
def token_create_view(request: HttpRequest) -> HttpResponse:
    form = ApiTokenForm(request.POST)
    if not form.is_valid():
        return _page(request, form, status=400)
    expires_on = form.cleaned_data["expires_on"]
    # The end of the chosen day, in UTC (the site's time zone).
    expires_at = dt.datetime.combine(expires_on, dt.time.max, tzinfo=dt.UTC) if expires_on else None
    try:
        created = api_token_create(
            user=request.user, name=form.cleaned_data["name"], scope=form.cleaned_data["scope"], expires_at=expires_at
        )
    except ServiceError as exc:
        status = form_refusal(form, exc)
        return _page(request, form, status=status)
    # Rendered, not redirected: the secret is in this answer only (no-store, like every
    # signed-in page), never in a session, a message or a log.
    return _page(request, ApiTokenForm(), status=201, new_token=created.token, new_token_secret=created.secret)


@login_required
@require_POST
def token_revoke_view(request: HttpRequest, token_id: int) -> HttpResponse:
    token = api_token_revoke(user=request.user, token_id=token_id)
    messages.success(request, f"Token “{token.name}” revoked; it no longer works.")
    return redirect("accounts:profile")
