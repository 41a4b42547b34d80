"""Teams, members and invitations."""

from __future__ import annotations

from rest_framework import serializers

from accounts.models import TeamRole


class TeamSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    slug = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()
    member_count = serializers.IntegerField()


class TeamDetailSerializer(TeamSerializer):
    your_role = serializers.ChoiceField(
        choices=TeamRole.choices, allow_null=True, help_text="null: not a member (site admin)"
    )
    can_invite = serializers.BooleanField(help_text="You may invite people (team.invite)")
    can_manage = serializers.BooleanField(help_text="You may change roles and remove members (team.manage)")


class MemberSerializer(serializers.Serializer):
    user_id = serializers.IntegerField()
    display_name = serializers.CharField()
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=TeamRole.choices)
    joined_at = serializers.DateTimeField()
    online = serializers.BooleanField(help_text="Active on the site in the last few minutes")


class MemberRoleSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=TeamRole.choices)


class InvitationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=TeamRole.choices)
    status = serializers.ChoiceField(choices=["pending", "accepted", "revoked", "expired"])
    invited_by = serializers.CharField(source="invited_by_name", allow_null=True)
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()


class InvitationCreateSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    role = serializers.ChoiceField(choices=TeamRole.choices, default=TeamRole.MEMBER)
