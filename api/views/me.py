"""`/me/`: the signed-in person's account, profile and preferences (read, PATCH), through the
accounts profile selector and service that the profile page uses."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import selectors
from accounts.models import User
from accounts.services.profile import profile_patch
from api.conventions import ApiView, etag_for, if_match_check
from api.serializers.me import MeSerializer, MeUpdateSerializer
from taskforge.errors import Unavailable
from taskforge.middleware import STORE_DOWN

ME_EXAMPLE = OpenApiExample(
    "me",
    value={
        "id": 42,
        "email": "ada@example.com",
        "display_name": "Ada",
        "date_joined": "2026-01-05T09:30:00Z",
        "email_verified": True,
        "capabilities": ["booking_desk"],
        "first_name": "Ada",
        "last_name": "Lovelace",
        "bio": "Runs the Alps desk.",
        "avatar_url": "",
        "preferences": {"theme": "dark", "channels": {"email": True, "in_app": True}, "email_cadence": "daily"},
    },
    response_only=True,
)


def _profile(user: User) -> dict[str, Any]:
    profile = selectors.profile_get(user.pk)
    if profile is None:
        raise Unavailable(STORE_DOWN, retry_after=30)
    return profile


def me_data(user: User, profile: dict[str, Any] | None = None) -> dict[str, Any]:
    """The representation; `profile` is a state the profile service returned (after a write,
    before the document store has it), else the profile selector's."""
    profile = profile or _profile(user)
    profile = {**profile, "avatar_url": selectors.avatar_url(profile.get("avatar") or "")}
    return MeSerializer(
        {
            "id": user.pk,
            "email": user.email,
            "display_name": str(user),
            "date_joined": user.date_joined,
            "email_verified": user.email_verified,
            "capabilities": sorted(user.capabilities),
            **{key: profile[key] for key in ("first_name", "last_name", "bio", "avatar_url", "preferences")},
        }
    ).data


def me_etag(user: User, data: dict[str, Any]) -> str:
    # profile_version is bumped in PostgreSQL with every profile write (in the same
    # transaction), so the tag changes at once even while the document store lags behind.
    return etag_for({"profile_version": user.profile_version, "me": data})


def me_response(user: User, data: dict[str, Any]) -> Response:
    return Response(data, headers={"ETag": me_etag(user, data)})


class MeView(ApiView):
    extra_problem_codes = {"PATCH": (412, 422)}

    @extend_schema(
        operation_id="me_read",
        summary="Your account and profile",
        responses={200: MeSerializer},
        examples=[ME_EXAMPLE],
        tags=["me"],
    )
    def get(self, request: Request) -> Response:
        return me_response(request.user, me_data(request.user))

    @extend_schema(
        operation_id="me_update",
        summary="Change your profile or preferences",
        description="Send only what changes. With `If-Match` (the ETag of `GET /me/`), a profile changed since "
        "you read it answers 412.",
        request=MeUpdateSerializer,
        responses={200: MeSerializer},
        examples=[
            OpenApiExample(
                "new theme and cadence", value={"theme": "dark", "email_cadence": "daily"}, request_only=True
            ),
            ME_EXAMPLE,
        ],
        tags=["me"],
    )
    def patch(self, request: Request) -> Response:
        incoming = MeUpdateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        user = request.user
        # If-Match against what the caller would read now; the profile version it names is
        # then checked again under the row lock by the service, so a concurrent change
        # between this check and the write is refused too (412), never overwritten.
        if_match_check(request, me_etag(user, me_data(user)))
        expected = user.profile_version if "If-Match" in request.headers else None
        state = profile_patch(user=user, changes=incoming.validated_data, expected_version=expected)
        return me_response(user, me_data(user, state))  # profile_patch set user.profile_version
