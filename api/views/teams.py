"""Teams and memberships: read; a team admin invites, changes a role, removes a member —
through the accounts selectors and the team/invitation services the team pages use."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import selectors
from accounts.models import Invitation, Team
from accounts.permissions import membership_role
from accounts.services.invitations import invitation_create, invitation_revoke
from accounts.services.teams import member_remove, member_role_change
from api.conventions import ApiView
from api.idempotency import IDEMPOTENCY_PARAMETER, idempotent
from api.pagination import paginate_list
from api.schema import page_of
from api.serializers.teams import (
    InvitationCreateSerializer,
    InvitationSerializer,
    MemberRoleSerializer,
    MemberSerializer,
    TeamDetailSerializer,
    TeamSerializer,
)

SLUG = OpenApiParameter(
    "slug",
    str,
    OpenApiParameter.PATH,
    description="The team's short name",
    examples=[OpenApiExample("slug", value="alps-desk")],
)
USER_ID = OpenApiParameter("user_id", int, OpenApiParameter.PATH, description="The member's user id")
INVITATION_ID = OpenApiParameter("invitation_id", int, OpenApiParameter.PATH, description="The invitation's id")
TEAM_EXAMPLE = OpenApiExample(
    "team",
    value={
        "id": 7,
        "slug": "alps-desk",
        "name": "Alps desk",
        "description": "Winter trips",
        "created_at": "2026-01-05T09:30:00Z",
        "member_count": 4,
    },
    response_only=True,
)


def _team(request: Request, slug: str) -> Team:
    """The team if the caller may see it; 404 otherwise (the site's one rule)."""
    return selectors.team_for_user(request.user, slug)


def _invitation_data(invitation: Invitation) -> dict[str, Any]:
    invitation.invited_by_name = str(invitation.invited_by) if invitation.invited_by_id else None
    return InvitationSerializer(invitation).data


class TeamListView(ApiView):
    paginated = True
    ordering = ("name", "id")

    @extend_schema(
        operation_id="teams_list",
        summary="Your teams (every team for a site admin)",
        responses={200: page_of(TeamSerializer)},
        examples=[TEAM_EXAMPLE],
        tags=["teams"],
    )
    def get(self, request: Request) -> Response:
        return self.paginate(selectors.teams_for_user(request.user), TeamSerializer)


class TeamDetailView(ApiView):
    @extend_schema(
        operation_id="team_read",
        summary="A team you belong to (any team for a site admin)",
        parameters=[SLUG],
        responses={200: TeamDetailSerializer},
        tags=["teams"],
    )
    def get(self, request: Request, slug: str) -> Response:
        team = _team(request, slug)
        data = {
            **{field: getattr(team, field) for field in ("id", "slug", "name", "description", "created_at")},
            "member_count": len(selectors.team_members(team)),
            "your_role": membership_role(request.user, team.pk),
            **selectors.team_capabilities(request.user, team),
        }
        return Response(TeamDetailSerializer(data).data)


class MemberListView(ApiView):
    paginated = True

    @extend_schema(
        operation_id="team_members_list",
        summary="The team's members, admins first",
        parameters=[SLUG],
        responses={200: page_of(MemberSerializer)},
        tags=["teams"],
    )
    def get(self, request: Request, slug: str) -> Response:
        team = _team(request, slug)
        rows = [
            {
                "user_id": row["user"].pk,
                "display_name": str(row["user"]),
                "email": row["user"].email,
                "role": row["role"],
                "joined_at": row["membership"].joined_at,
                "online": row["online"],
            }
            for row in selectors.team_members(team)
        ]
        return paginate_list(request, rows, lambda row: MemberSerializer(row).data)


class MemberDetailView(ApiView):
    extra_problem_codes = {"PATCH": (409,), "DELETE": (409,)}

    @extend_schema(
        operation_id="team_member_role_change",
        summary="Change a member's role (team admins)",
        parameters=[SLUG, USER_ID],
        request=MemberRoleSerializer,
        responses={200: MemberSerializer},
        examples=[OpenApiExample("make admin", value={"role": "admin"}, request_only=True)],
        tags=["teams"],
    )
    def patch(self, request: Request, slug: str, user_id: int) -> Response:
        team = _team(request, slug)
        incoming = MemberRoleSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        membership = member_role_change(
            actor=request.user, team=team, user_id=user_id, role=incoming.validated_data["role"]
        )
        return Response(
            MemberSerializer(
                {
                    "user_id": membership.user_id,
                    "display_name": str(membership.user),
                    "email": membership.user.email,
                    "role": membership.role,
                    "joined_at": membership.joined_at,
                    "online": False,
                }
            ).data
        )

    @extend_schema(
        operation_id="team_member_remove",
        summary="Remove a member (team admins)",
        parameters=[SLUG, USER_ID],
        responses={204: None},
        tags=["teams"],
    )
    def delete(self, request: Request, slug: str, user_id: int) -> Response:
        member_remove(actor=request.user, team=_team(request, slug), user_id=user_id)
        return Response(status=204)


class InvitationListView(ApiView):
    paginated = True
    extra_problem_codes = {"GET": (403,), "POST": (409, 422)}

    @extend_schema(
        operation_id="team_invitations_list",
        summary="Pending invitations (people who may invite)",
        parameters=[SLUG],
        responses={200: page_of(InvitationSerializer)},
        tags=["teams"],
    )
    def get(self, request: Request, slug: str) -> Response:
        team = _team(request, slug)
        if not selectors.team_capabilities(request.user, team)["can_invite"]:
            raise PermissionDenied("You cannot invite people to this team.")
        rows = list(selectors.team_invitations_pending(team).order_by("-created_at", "-id"))
        return paginate_list(request, rows, _invitation_data)

    @extend_schema(
        operation_id="team_invitation_create",
        summary="Invite someone by email (people who may invite; admins only to the admin role)",
        description="Emails a single-use link; the link itself is never returned. A new invitation replaces a "
        "pending one for the same address.",
        parameters=[SLUG, IDEMPOTENCY_PARAMETER],
        request=InvitationCreateSerializer,
        responses={201: InvitationSerializer},
        examples=[OpenApiExample("invite", value={"email": "grace@example.com", "role": "member"}, request_only=True)],
        tags=["teams"],
    )
    @idempotent
    def post(self, request: Request, slug: str) -> Response:
        team = _team(request, slug)
        incoming = InvitationCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        invitation, _token = invitation_create(actor=request.user, team=team, **incoming.validated_data)
        return Response(_invitation_data(invitation), status=201)


class InvitationDetailView(ApiView):
    @extend_schema(
        operation_id="team_invitation_revoke",
        summary="Withdraw a pending invitation",
        parameters=[SLUG, INVITATION_ID],
        responses={204: None},
        tags=["teams"],
    )
    def delete(self, request: Request, slug: str, invitation_id: int) -> Response:
        invitation_revoke(actor=request.user, team=_team(request, slug), invitation_id=invitation_id)
        return Response(status=204)
