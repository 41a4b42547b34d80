"""Invitations: a team emails a single-use link; accepting it joins the team (with an
existing account of that address, or a new one) and grants no site capability."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts import emails
from accounts.models import Invitation, Membership, Team, TeamRole, User
from accounts.selectors import user_by_email
from accounts.services.registration import email_normalise
from accounts.services.teams import team_permission_require
from taskforge.errors import Conflict, Forbidden, Gone, NotFound, ServiceError


def token_hash(value: str) -> str:
    """SHA-256 of a one-time token: what the database keeps instead of the token."""
    return hashlib.sha256(value.encode()).hexdigest()


def invitation_create(*, actor: User, team: Team, email: str, role: str) -> tuple[Invitation, str]:
    """Email a single-use link (valid INVITATION_TTL_DAYS). Returns the invitation and its token."""
    team_permission_require(actor, team.pk, "team.invite")
    if role not in TeamRole.values:
        raise ServiceError("Choose admin, member or guest.", field="role")
    if role == TeamRole.ADMIN:
        team_permission_require(actor, team.pk, "team.manage")
    email = email_normalise(email)
    account = user_by_email(email)
    if account is not None and Membership.objects.filter(team=team, user=account).exists():
        raise Conflict(f"{email} is already a member of this team.", field="email")
    if account is not None and not account.is_active:
        raise Conflict("That account is closed and cannot join a team.", field="email")
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    with transaction.atomic():
        # A new invitation replaces a pending one for the same address.
        Invitation.objects.filter(team=team, email=email, accepted_at__isnull=True, revoked_at__isnull=True).update(
            revoked_at=now
        )
        invitation = Invitation.objects.create(
            team=team,
            email=email,
            role=role,
            token_hash=token_hash(token),
            invited_by=actor,
            created_at=now,
            expires_at=now + timedelta(days=settings.INVITATION_TTL_DAYS),
        )
        emails.invitation_email(
            invitation_id=invitation.pk,
            email=email,
            team_name=team.name,
            inviter_name=str(actor),
            role=role,
            accept_path=reverse("accounts:invitation", args=[token]),
            expires_at=invitation.expires_at.strftime("%Y-%m-%d %H:%M UTC"),
        )
    return invitation, token


def invitation_revoke(*, actor: User, team: Team, invitation_id: int) -> None:
    team_permission_require(actor, team.pk, "team.invite")
    updated = Invitation.objects.filter(
        pk=invitation_id, team=team, accepted_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=timezone.now())
    if not updated:
        raise NotFound("No such pending invitation.")


def invitation_check(invitation: Invitation | None) -> Invitation:
    if invitation is None:
        raise NotFound("This invitation link is not valid.")
    if invitation.accepted_at is not None:
        raise Gone("This invitation has already been used.")
    if invitation.revoked_at is not None:
        raise Gone("This invitation was withdrawn.")
    if invitation.expires_at <= timezone.now():
        raise Gone("This invitation has expired. Ask the team for a new one.")
    return invitation


@dataclass
class Accepted:
    invitation: Invitation
    user: User
    created: bool


def invitation_accept(*, token: str, user: User | None, display_name: str = "", password: str = "") -> Accepted:
    """Use the link: join with the signed-in account of that address, or create an account for it.

    The invitation grants a membership of its team and nothing else: no site capability."""
    with transaction.atomic():
        invitation = invitation_check(
            Invitation.objects.select_for_update().select_related("team").filter(token_hash=token_hash(token)).first()
        )
        account = user_by_email(invitation.email)
        signed_in = user is not None and user.is_authenticated
        created = False
        if account is None:
            if signed_in:
                raise Conflict(f"This invitation is for {invitation.email}. Sign out first to create that account.")
            if not password:
                raise ServiceError("Choose a password.", field="password")
            account = User.objects.create_user(
                invitation.email,
                password,
                display_name=display_name.strip()[:150],
                email_verified=True,  # the link reached this address
            )
            created = True
        else:
            if not signed_in or user.pk != account.pk:
                raise Forbidden(f"This invitation is for {invitation.email}: sign in with that account to accept it.")
        Membership.objects.get_or_create(team=invitation.team, user=account, defaults={"role": invitation.role})
        invitation.accepted_at = timezone.now()
        invitation.accepted_by = account
        invitation.save(update_fields=["accepted_at", "accepted_by"])
    return Accepted(invitation=invitation, user=account, created=created)
