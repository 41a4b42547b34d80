"""Views of the accounts app: thin (parse, call a service or selector, render).

Pages: sign-in/out, registration and verification, password change and reset,
profile (with avatar and theme), "Your sessions", personal data (export, delete),
teams (list, create, detail, invite, members, permissions) and invitations.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.serializers.json import DjangoJSONEncoder
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import selectors, services
from accounts.devices import device_cookie_set
from accounts.export import ExportUnavailable, export_build
from accounts.forms import (
    AvatarForm,
    DeleteAccountForm,
    EmailPasswordResetForm,
    InvitationAccountForm,
    InviteForm,
    ProfileForm,
    RegisterForm,
    ResendVerificationForm,
    RoleForm,
    RolePermissionsForm,
    SignInForm,
    TeamForm,
    ThemeForm,
)
from accounts.middleware import NOTICE_KEY
from accounts.models import Capability, Team
from accounts.permissions import PERMISSIONS, team_role_permissions
from accounts.services import RateLimited, ServiceError
from accounts.sessions import SID_KEY, sid_hash
from taskforge.decorators import capability_required, signed_in
from taskforge.middleware import client_ip
from taskforge.params import redirect_target


def _problem(
    request: HttpRequest, template: str, context: dict[str, Any], exc: ServiceError, form: Any = None
) -> HttpResponse:
    """Re-render a page with the refusal's message and status (429 also gets Retry-After)."""
    if form is not None and exc.field and exc.field in form.fields:
        form.add_error(exc.field, exc.message)
        error = None
    else:
        error = exc.message
    response = render(request, template, {**context, "form": form, "error": error}, status=exc.status)
    if isinstance(exc, RateLimited):
        response["Retry-After"] = str(exc.retry_after)
    return response


# --- sign-in / out ------------------------------------------------------------------------


@never_cache
@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    next_url = redirect_target(request, reverse(settings.LOGIN_REDIRECT_URL))
    notice = request.session.pop(NOTICE_KEY, None) if hasattr(request, "session") else None
    if request.method == "GET" and request.user.is_authenticated:
        return redirect(next_url)
    form = SignInForm(request.POST or None)
    context = {"next": next_url, "notice": notice, "unverified": False}
    if request.method == "POST":
        if not form.is_valid():
            return render(request, "accounts/login.html", {**context, "form": form}, status=400)
        try:
            user = services.sign_in(request, email=form.cleaned_data["email"], password=form.cleaned_data["password"])
        except ServiceError as exc:
            context["unverified"] = exc.status == 403
            return _problem(request, "accounts/login.html", context, exc, form)
        response = HttpResponseRedirect(next_url)
        device_cookie_set(response, user)  # this browser is now trusted for the account
        return response
    return render(request, "accounts/login.html", {**context, "form": form})


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    services.sign_out(request)
    return redirect(settings.LOGOUT_REDIRECT_URL)


# --- registration / verification -----------------------------------------------------------


@never_cache
@require_http_methods(["GET", "POST"])
def register_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("accounts:profile")
    form = RegisterForm(request.POST or None)
    if request.method == "POST":
        if not form.is_valid():
            return render(request, "accounts/register.html", {"form": form}, status=400)
        data = form.cleaned_data
        try:
            services.user_register(
                email=data["email"],
                password=data["password1"],
                first_name=data["first_name"],
                last_name=data["last_name"],
                ip=client_ip(request),
            )
        except ServiceError as exc:
            return _problem(request, "accounts/register.html", {}, exc, form)
        # Same answer whether or not the address already had an account.
        return render(request, "accounts/register_done.html", {"email": data["email"]})
    return render(request, "accounts/register.html", {"form": form})


@never_cache
@require_http_methods(["GET", "POST"])
def verify_view(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows the link's page with a button; only the button's POST (with its CSRF token)
    confirms. Mail scanners and link previews open links by themselves: a GET must not
    confirm an address its owner never saw."""
    try:
        if request.method == "POST":
            services.email_verify(token=token)
        else:
            services.email_verify_check(token=token)
    except ServiceError as exc:
        return render(
            request, "accounts/verify.html", {"error": exc.message, "form": ResendVerificationForm()}, status=exc.status
        )
    if request.method == "POST":
        return render(request, "accounts/verify.html", {"verified": True})
    return render(request, "accounts/verify.html", {"confirm": True})


@require_http_methods(["GET", "POST"])
def verify_resend_view(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return render(request, "accounts/verify.html", {"form": ResendVerificationForm()})
    form = ResendVerificationForm(request.POST)
    if not form.is_valid():
        return render(request, "accounts/verify.html", {"form": form}, status=400)
    try:
        services.verification_resend(email=form.cleaned_data["email"], ip=client_ip(request))
    except ServiceError as exc:
        return _problem(request, "accounts/verify.html", {}, exc, form)
    return render(request, "accounts/register_done.html", {"email": form.cleaned_data["email"], "resent": True})


# --- passwords ---------------------------------------------------------------------------------


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("accounts:password_change_done")

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)  # saves, keeps this session (update_session_auth_hash)
        ended = services.sessions_after_password_change(self.request, self.request.user)
        messages.success(
            self.request,
            "Your password was changed."
            + (f" {ended} other session{'s' if ended != 1 else ''} signed out." if ended else ""),
        )
        return response

    def form_invalid(self, form: Any) -> HttpResponse:
        return self.render_to_response(self.get_context_data(form=form), status=400)


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "accounts/password_reset.html"
    form_class = EmailPasswordResetForm
    success_url = reverse_lazy("accounts:password_reset_done")

    def form_valid(self, form: Any) -> HttpResponse:
        from accounts.ratelimit import throttle_hit

        wait = max(
            throttle_hit(f"reset:ip:{client_ip(self.request)}", limit=10, window=3600),
            throttle_hit(f"reset:email:{form.cleaned_data['email'].lower()}", limit=3, window=3600),
        )
        if wait:
            response = self.render_to_response(
                self.get_context_data(form=form, error="Too many reset requests. Try again later."), status=429
            )
            response["Retry-After"] = str(wait)
            return response
        return super().form_valid(form)

    def form_invalid(self, form: Any) -> HttpResponse:
        return self.render_to_response(self.get_context_data(form=form), status=400)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password_reset_complete")

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        services.sessions_after_password_reset(form.user)  # a reset signs the account out everywhere
        return response

    def form_invalid(self, form: Any) -> HttpResponse:
        return self.render_to_response(self.get_context_data(form=form), status=400)


# --- profile -------------------------------------------------------------------------------------


def _profile_context(request: HttpRequest) -> dict[str, Any]:
    profile = selectors.profile_get(request.user.pk)
    return {
        "profile": profile,
        "pending": profile is None,
        "avatar_form": AvatarForm(),
        "avatar_max_kb": settings.AVATAR_MAX_BYTES // 1024,
    }


@login_required
@require_http_methods(["GET", "POST"])
def profile_view(request: HttpRequest) -> HttpResponse:
    context = _profile_context(request)
    if request.method == "POST":
        form = ProfileForm(request.POST)
        if not form.is_valid():
            return render(request, "accounts/profile.html", {**context, "form": form}, status=400)
        try:
            services.profile_update(user=request.user, **form.cleaned_data)
        except ServiceError as exc:
            return _problem(request, "accounts/profile.html", context, exc, form)
        messages.success(request, "Your profile was saved.")
        return redirect("accounts:profile")
    return render(
        request, "accounts/profile.html", {**context, "form": ProfileForm(initial=_initial_from(context["profile"]))}
    )


@login_required
@require_POST
def theme_view(request: HttpRequest) -> HttpResponse:
    form = ThemeForm(request.POST)
    if not form.is_valid():
        return HttpResponse("Choose light, dark or system.", status=400)
    try:
        services.profile_theme_set(user=request.user, theme=form.cleaned_data["theme"])
    except ServiceError as exc:
        return HttpResponse(exc.message, status=exc.status)
    return redirect(redirect_target(request, reverse("accounts:profile")))


@login_required
@require_POST
def avatar_upload_view(request: HttpRequest) -> HttpResponse:
    form = AvatarForm(request.POST, request.FILES)
    context = _profile_context(request)
    context["form"] = ProfileForm(initial=_initial_from(context["profile"]))
    if not form.is_valid():
        return render(request, "accounts/profile.html", {**context, "avatar_form": form}, status=400)
    try:
        services.avatar_set(user=request.user, upload=form.cleaned_data["avatar"])
    except ServiceError as exc:
        form.add_error("avatar", exc.message)
        return render(request, "accounts/profile.html", {**context, "avatar_form": form}, status=exc.status)
    messages.success(request, "Your picture was updated.")
    return redirect("accounts:profile")


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
    }


@login_required
@require_POST
def avatar_delete_view(request: HttpRequest) -> HttpResponse:
    try:
        services.avatar_remove(user=request.user)
    except ServiceError as exc:
        context = _profile_context(request)
        context["form"] = ProfileForm(initial=_initial_from(context["profile"]))
        return _problem(request, "accounts/profile.html", context, exc)
    messages.success(request, "Your picture was removed.")
    return redirect("accounts:profile")


_AVATAR_NAME = re.compile(r"^[0-9a-f]{32}\.png$")


@login_required
@require_GET
def avatar_view(request: HttpRequest, name: str) -> HttpResponse:
    """Serve an avatar thumbnail (server-generated names only; never a path from the client)."""
    if not _AVATAR_NAME.match(name):
        raise Http404("no such picture")
    path = services.avatar_dir() / name
    if not path.is_file():
        raise Http404("no such picture")
    response = FileResponse(path.open("rb"), content_type="image/png")
    response["Cache-Control"] = "private, max-age=86400"
    return response


# --- sessions ---------------------------------------------------------------------------------------


@login_required
@require_GET
def sessions_view(request: HttpRequest) -> HttpResponse:
    current = request.session.get(SID_KEY)
    current_hash = sid_hash(current) if current else ""
    rows = list(selectors.sessions_active_for_user(request.user))
    return render(request, "accounts/sessions.html", {"sessions": rows, "current_hash": current_hash})


@login_required
@require_POST
def session_revoke_view(request: HttpRequest, session_id: int) -> HttpResponse:
    try:
        was_current = services.session_revoke(
            user=request.user, session_id=session_id, current_sid=request.session.get(SID_KEY)
        )
    except ServiceError as exc:
        if exc.status == 404:
            raise Http404(exc.message) from None
        rows = list(selectors.sessions_active_for_user(request.user))
        current = request.session.get(SID_KEY)
        context = {"sessions": rows, "current_hash": sid_hash(current) if current else "", "error": exc.message}
        return render(request, "accounts/sessions.html", context, status=exc.status)
    if was_current:
        services.sign_out(request)
        return redirect("accounts:login")
    messages.success(request, "That session was signed out.")
    return redirect("accounts:sessions")


@login_required
@require_POST
def sessions_revoke_others_view(request: HttpRequest) -> HttpResponse:
    ended = services.sessions_revoke_others(user=request.user, current_sid=request.session.get(SID_KEY))
    messages.success(request, f"{ended} other session{'s' if ended != 1 else ''} signed out.")
    return redirect("accounts:sessions")


# --- personal data -----------------------------------------------------------------------------------


@login_required
@require_GET
def data_view(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/data.html", {"delete_form": DeleteAccountForm()})


@login_required
@require_GET
def data_export_view(request: HttpRequest) -> HttpResponse:
    try:
        data = export_build(request.user)
    except ExportUnavailable:
        return render(
            request,
            "accounts/data.html",
            {
                "delete_form": DeleteAccountForm(),
                "error": "Part of your data cannot be read right now. Please try the download again in a few minutes.",
            },
            status=503,
        )
    body = json.dumps(data, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False, default=str)
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="taskforge-my-data-{stamp}.json"'
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_http_methods(["GET", "POST"])
def account_delete_view(request: HttpRequest) -> HttpResponse:
    form = DeleteAccountForm(request.POST or None)
    context = {"last_admin_teams": selectors.teams_where_last_admin(request.user)}
    if request.method == "POST":
        if not form.is_valid():
            return render(request, "accounts/delete.html", {**context, "form": form}, status=400)
        try:
            record = services.account_erase(request, user=request.user, password=form.cleaned_data["password"])
        except ServiceError as exc:
            return _problem(request, "accounts/delete.html", context, exc, form)
        return render(request, "accounts/deleted.html", {"pseudonym": record.pseudonym})
    return render(request, "accounts/delete.html", {**context, "form": form})


# --- teams -----------------------------------------------------------------------------------------------


@signed_in
@require_GET
def teams_view(request: HttpRequest) -> HttpResponse:
    return render(request, "teams/list.html", {"teams": selectors.teams_for_user(request.user)})


@capability_required(Capability.TEAM_CREATOR)
@require_http_methods(["GET", "POST"])
def team_create_view(request: HttpRequest) -> HttpResponse:
    form = TeamForm(request.POST or None)
    if request.method == "POST":
        if not form.is_valid():
            return render(request, "teams/create.html", {"form": form}, status=400)
        try:
            team = services.team_create(user=request.user, **form.cleaned_data)
        except ServiceError as exc:
            return _problem(request, "teams/create.html", {}, exc, form)
        messages.success(request, f"Team “{team.name}” created.")
        return redirect("accounts:team", slug=team.slug)
    return render(request, "teams/create.html", {"form": form})


def _team_context(request: HttpRequest, team: Team) -> dict[str, Any]:
    caps = selectors.team_capabilities(request.user, team)
    return {
        "team": team,
        "members": selectors.team_members(team),
        "invitations": selectors.team_invitations_pending(team) if caps["can_invite"] else [],
        "role_form": RoleForm(),
        **caps,
    }


def _team_problem(request: HttpRequest, team: Team, exc: ServiceError) -> HttpResponse:
    if exc.status == 404:
        raise Http404(exc.message)
    template = "teams/partials/members.html" if request.htmx else "teams/detail.html"
    return _problem(request, template, _team_context(request, team), exc)


@signed_in
@require_GET
def team_view(request: HttpRequest, slug: str) -> HttpResponse:
    team = selectors.team_for_user(request.user, slug)
    template = "teams/partials/members.html" if request.htmx else "teams/detail.html"
    return render(request, template, _team_context(request, team))


@signed_in
@require_http_methods(["GET", "POST"])
def team_invite_view(request: HttpRequest, slug: str) -> HttpResponse:
    team = selectors.team_for_user(request.user, slug)
    if not selectors.team_capabilities(request.user, team)["can_invite"]:
        raise PermissionDenied("You cannot invite people to this team.")
    form = InviteForm(request.POST or None)
    context = {"team": team, "invitations": selectors.team_invitations_pending(team)}
    if request.method == "POST":
        if not form.is_valid():
            return render(request, "teams/invite.html", {**context, "form": form}, status=400)
        try:
            invitation, _token = services.invitation_create(actor=request.user, team=team, **form.cleaned_data)
        except ServiceError as exc:
            return _problem(request, "teams/invite.html", context, exc, form)
        messages.success(request, f"Invitation sent to {invitation.email}.")
        return redirect("accounts:team_invite", slug=team.slug)
    return render(request, "teams/invite.html", {**context, "form": form})


@signed_in
@require_POST
def invitation_revoke_view(request: HttpRequest, slug: str, invitation_id: int) -> HttpResponse:
    team = selectors.team_for_user(request.user, slug)
    try:
        services.invitation_revoke(actor=request.user, team=team, invitation_id=invitation_id)
    except ServiceError as exc:
        return _team_problem(request, team, exc)
    messages.success(request, "Invitation withdrawn.")
    return redirect("accounts:team_invite", slug=team.slug)


@signed_in
@require_POST
def member_role_view(request: HttpRequest, slug: str, user_id: int) -> HttpResponse:
    team = selectors.team_for_user(request.user, slug)
    form = RoleForm(request.POST)
    if not form.is_valid():
        return _team_problem(request, team, ServiceError("Choose admin, member or guest."))
    try:
        services.member_role_change(actor=request.user, team=team, user_id=user_id, role=form.cleaned_data["role"])
    except ServiceError as exc:
        return _team_problem(request, team, exc)
    if request.htmx:
        return render(request, "teams/partials/members.html", _team_context(request, team))
    messages.success(request, "Role changed.")
    return redirect("accounts:team", slug=team.slug)


@signed_in
@require_POST
def member_remove_view(request: HttpRequest, slug: str, user_id: int) -> HttpResponse:
    team = selectors.team_for_user(request.user, slug)
    try:
        services.member_remove(actor=request.user, team=team, user_id=user_id)
    except ServiceError as exc:
        return _team_problem(request, team, exc)
    messages.success(request, "Member removed.")
    return redirect("accounts:team", slug=team.slug)


@signed_in
@require_POST
def team_leave_view(request: HttpRequest, slug: str) -> HttpResponse:
    team = selectors.team_for_user(request.user, slug)
    try:
        services.team_leave(user=request.user, team=team)
    except ServiceError as exc:
        return _team_problem(request, team, exc)
    messages.success(request, f"You left “{team.name}”.")
    return redirect("accounts:teams")


@signed_in
@require_http_methods(["GET", "POST"])
def team_permissions_view(request: HttpRequest, slug: str) -> HttpResponse:
    team = selectors.team_for_user(request.user, slug)
    caps = selectors.team_capabilities(request.user, team)
    table = team_role_permissions(team.pk)
    form = RolePermissionsForm(request.POST or None, table=table)

    def page(status: int = 200, error: str | None = None) -> HttpResponse:
        rows = [
            {
                "perm": perm,
                "description": desc,
                "cells": [{"role": role, "field": form[f"{role}:{perm}"]} for role in ("admin", "member", "guest")],
            }
            for perm, desc in PERMISSIONS.items()
        ]
        return render(
            request,
            "teams/permissions.html",
            {"team": team, "rows": rows, "form": form, "error": error, **caps},
            status=status,
        )

    if request.method == "POST":
        if not caps["can_manage"]:
            raise PermissionDenied("Only team admins can change role permissions.")
        if not form.is_valid():
            return page(400)
        try:
            services.role_permissions_set(actor=request.user, team=team, grants=form.grants())
        except ServiceError as exc:
            return page(exc.status, exc.message)
        messages.success(request, "Role permissions saved.")
        return redirect("accounts:team_permissions", slug=team.slug)
    return page()


# --- invitations -----------------------------------------------------------------------------------------


@never_cache
@require_http_methods(["GET", "POST"])
def invitation_view(request: HttpRequest, token: str) -> HttpResponse:
    try:
        invitation = services.invitation_check(selectors.invitation_by_token_hash(services.token_hash(token)))
    except ServiceError as exc:
        if exc.status == 404:
            raise Http404(exc.message) from None
        return render(request, "teams/invitation.html", {"error": exc.message}, status=exc.status)
    account = selectors.user_by_email(invitation.email)
    form = InvitationAccountForm(request.POST or None, email=invitation.email) if account is None else None
    context = {
        "invitation": invitation,
        "has_account": account is not None,
        "form": form,
        "signed_in_as_invitee": request.user.is_authenticated and account is not None and request.user.pk == account.pk,
    }
    if request.method == "POST":
        if form is not None and not form.is_valid():
            return render(request, "teams/invitation.html", context, status=400)
        try:
            accepted = services.invitation_accept(
                token=token,
                user=request.user,
                display_name=form.cleaned_data["display_name"] if form else "",
                password=form.cleaned_data["password1"] if form else "",
            )
        except ServiceError as exc:
            return _problem(request, "teams/invitation.html", context, exc, form)
        if accepted.created:
            services.session_start(request, accepted.user, reason="invitation")
        messages.success(request, f"Welcome to {accepted.invitation.team.name}.")
        return redirect("accounts:team", slug=accepted.invitation.team.slug)
    return render(request, "teams/invitation.html", context)
