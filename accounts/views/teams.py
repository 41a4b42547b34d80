"""Teams: the list, creating one, the team page with its members, inviting, roles, leaving,
the role-permission table, and accepting an invitation."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import selectors
from accounts.forms import InvitationAccountForm, InviteForm, RoleForm, RolePermissionsForm, TeamForm
from accounts.models import Capability, Team
from accounts.permissions import PERMISSIONS, team_role_permissions
from accounts.services.invitations import (
    invitation_accept,
    invitation_check,
    invitation_create,
    invitation_revoke,
    token_hash,
)
from accounts.services.signin import session_start
from accounts.services.teams import member_remove, member_role_change, role_permissions_set, team_create, team_leave
from taskforge.decorators import capability_required, signed_in
from taskforge.errors import ServiceError, form_refusal


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
            team = team_create(user=request.user, **form.cleaned_data)
        except ServiceError as exc:
            status = form_refusal(form, exc)
            return render(request, "teams/create.html", {"form": form}, status=status)
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
            invitation, _token = invitation_create(actor=request.user, team=team, **form.cleaned_data)
        except ServiceError as exc:
            status = form_refusal(form, exc)
            return render(request, "teams/invite.html", {**context, "form": form}, status=status)
        messages.success(request, f"Invitation sent to {invitation.email}.")
        return redirect("accounts:team_invite", slug=team.slug)
    return render(request, "teams/invite.html", {**context, "form": form})


@signed_in
@require_POST
def invitation_revoke_view(request: HttpRequest, slug: str, invitation_id: int) -> HttpResponse:
    team = selectors.team_for_user(request.user, slug)
    invitation_revoke(actor=request.user, team=team, invitation_id=invitation_id)
    messages.success(request, "Invitation withdrawn.")
    return redirect("accounts:team_invite", slug=team.slug)


@signed_in
@require_POST
def member_role_view(request: HttpRequest, slug: str, user_id: int) -> HttpResponse:
    team = selectors.team_for_user(request.user, slug)
    form = RoleForm(request.POST)
    if not form.is_valid():
        raise ServiceError("Choose admin, member or guest.")
    member_role_change(actor=request.user, team=team, user_id=user_id, role=form.cleaned_data["role"])
    if request.htmx:
        return render(request, "teams/partials/members.html", _team_context(request, team))
    messages.success(request, "Role changed.")
    return redirect("accounts:team", slug=team.slug)


@signed_in
@require_POST
def member_remove_view(request: HttpRequest, slug: str, user_id: int) -> HttpResponse:
    team = selectors.team_for_user(request.user, slug)
    member_remove(actor=request.user, team=team, user_id=user_id)
    messages.success(request, "Member removed.")
    return redirect("accounts:team", slug=team.slug)


@signed_in
@require_POST
def team_leave_view(request: HttpRequest, slug: str) -> HttpResponse:
    team = selectors.team_for_user(request.user, slug)
    team_leave(user=request.user, team=team)
    messages.success(request, f"You left “{team.name}”.")
    return redirect("accounts:teams")


@signed_in
@require_http_methods(["GET", "POST"])
def team_permissions_view(request: HttpRequest, slug: str) -> HttpResponse:
    team = selectors.team_for_user(request.user, slug)
    caps = selectors.team_capabilities(request.user, team)
    table = team_role_permissions(team.pk)
    form = RolePermissionsForm(request.POST or None, table=table)

    def page(status: int = 200) -> HttpResponse:
        rows = [
            {
                "perm": perm,
                "description": desc,
                "cells": [{"role": role, "field": form[f"{role}:{perm}"]} for role in ("admin", "member", "guest")],
            }
            for perm, desc in PERMISSIONS.items()
        ]
        return render(
            request, "teams/permissions.html", {"team": team, "rows": rows, "form": form, **caps}, status=status
        )

    if request.method == "POST":
        if not caps["can_manage"]:
            raise PermissionDenied("Only team admins can change role permissions.")
        if not form.is_valid():
            return page(400)
        try:
            role_permissions_set(actor=request.user, team=team, grants=form.grants())
        except ServiceError as exc:
            return page(form_refusal(form, exc))
        messages.success(request, "Role permissions saved.")
        return redirect("accounts:team_permissions", slug=team.slug)
    return page()


# --- invitations -----------------------------------------------------------------------------------------


@never_cache
@require_http_methods(["GET", "POST"])
def invitation_view(request: HttpRequest, token: str) -> HttpResponse:
    invitation = invitation_check(selectors.invitation_by_token_hash(token_hash(token)))
    account = selectors.user_by_email(invitation.email)
    form = InvitationAccountForm(request.POST or None, email=invitation.email) if account is None else None
    context = {
        "invitation": invitation,
        "has_account": account is not None,
        "form": form,
        "signed_in_as_invitee": request.user.is_authenticated and account is not None and request.user.pk == account.pk,
    }
    if request.method == "POST":
        if form is None:  # an existing account accepts with a button
            accepted = invitation_accept(token=token, user=request.user)
        else:  # a new account: the refusal goes on the form, with what was typed
            if not form.is_valid():
                return render(request, "teams/invitation.html", context, status=400)
            try:
                accepted = invitation_accept(
                    token=token,
                    user=request.user,
                    display_name=form.cleaned_data["display_name"],
                    password=form.cleaned_data["password1"],
                )
            except ServiceError as exc:
                return render(request, "teams/invitation.html", context, status=form_refusal(form, exc))
        if accepted.created:
            session_start(request, accepted.user, reason="invitation")
        messages.success(request, f"Welcome to {accepted.invitation.team.name}.")
        return redirect("accounts:team", slug=accepted.invitation.team.slug)
    return render(request, "teams/invitation.html", context)
