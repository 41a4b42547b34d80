"""The profile page: names, bio and preferences, the theme, and the profile picture."""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import selectors
from accounts.forms import ApiTokenForm, AvatarForm, ProfileForm, ThemeForm
from accounts.services.avatars import avatar_dir, avatar_remove, avatar_set
from accounts.services.profile import profile_theme_set, profile_update
from taskforge.errors import ServiceError, form_refusal
from taskforge.params import redirect_target


def profile_context(request: HttpRequest) -> dict[str, Any]:
    """What every rendering of the profile page shows (its forms are added by each view)."""
    profile = selectors.profile_get(request.user.pk)
    return {
        "profile": profile,
        "initial": _initial_from(profile),
        "pending": profile is None,
        "avatar_form": AvatarForm(),
        "avatar_max_kb": settings.AVATAR_MAX_BYTES // 1024,
        "api_tokens": list(selectors.api_tokens_for_user(request.user)),
        "token_form": ApiTokenForm(),
    }


def _initial_from(profile: dict[str, Any] | None) -> dict[str, Any]:
    if not profile:
        return {}
    prefs = profile["preferences"]
    return {
        "first_name": profile["first_name"],
        "last_name": profile["last_name"],
        "bio": profile["bio"],
        "theme": prefs["theme"],
        "notify_email": prefs["channels"]["email"],
        "notify_in_app": prefs["channels"]["in_app"],
        "email_cadence": prefs["email_cadence"],
        "time_zone": prefs["time_zone"],
    }


@login_required
@require_http_methods(["GET", "POST"])
def profile_view(request: HttpRequest) -> HttpResponse:
    context = profile_context(request)
    if request.method == "POST":
        form = ProfileForm(request.POST)
        if not form.is_valid():
            return render(request, "accounts/profile.html", {**context, "form": form}, status=400)
        try:
            profile_update(user=request.user, **form.cleaned_data)
        except ServiceError as exc:
            status = form_refusal(form, exc)
            return render(request, "accounts/profile.html", {**context, "form": form}, status=status)
        messages.success(request, "Your profile was saved.")
        return redirect("accounts:profile")
    return render(request, "accounts/profile.html", {**context, "form": ProfileForm(initial=context["initial"])})


@login_required
@require_POST
def theme_view(request: HttpRequest) -> HttpResponse:
    form = ThemeForm(request.POST)
    if not form.is_valid():
        return HttpResponse("Choose light, dark or system.", status=400)
    profile_theme_set(user=request.user, theme=form.cleaned_data["theme"])
    return redirect(redirect_target(request, reverse("accounts:profile")))


@login_required
@require_POST
def avatar_upload_view(request: HttpRequest) -> HttpResponse:
    form = AvatarForm(request.POST, request.FILES)
    context = profile_context(request)
    context["form"] = ProfileForm(initial=context["initial"])
    if not form.is_valid():
        return render(request, "accounts/profile.html", {**context, "avatar_form": form}, status=400)
    try:
        avatar_set(user=request.user, upload=form.cleaned_data["avatar"])
    except ServiceError as exc:
        status = form_refusal(form, exc)
        return render(request, "accounts/profile.html", {**context, "avatar_form": form}, status=status)
    messages.success(request, "Your picture was updated.")
    return redirect("accounts:profile")


@login_required
@require_POST
def avatar_delete_view(request: HttpRequest) -> HttpResponse:
    avatar_remove(user=request.user)
    messages.success(request, "Your picture was removed.")
    return redirect("accounts:profile")


_AVATAR_NAME = re.compile(r"^[0-9a-f]{32}\.png$")


@login_required
@require_GET
def avatar_view(request: HttpRequest, name: str) -> HttpResponse:
    """Serve an avatar thumbnail (server-generated names only; never a path from the client)."""
    if not _AVATAR_NAME.match(name):
        raise Http404("no such picture")
    path = avatar_dir() / name
    if not path.is_file():
        raise Http404("no such picture")
    response = FileResponse(path.open("rb"), content_type="image/png")
    response["Cache-Control"] = "private, max-age=86400"
    return response
