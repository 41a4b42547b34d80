"""`me`: the signed-in person, their profile and preferences."""

from __future__ import annotations

from rest_framework import serializers

from accounts.models import CADENCES, THEMES


class ChannelsSerializer(serializers.Serializer):
    email = serializers.BooleanField(help_text="Notifications by email")
    in_app = serializers.BooleanField(help_text="Notifications in the site's bell")


class PreferencesSerializer(serializers.Serializer):
    theme = serializers.ChoiceField(choices=THEMES)
    channels = ChannelsSerializer()
    email_cadence = serializers.ChoiceField(choices=CADENCES)


class MeSerializer(serializers.Serializer):
    """What `GET /me/` answers (built from the user row and the accounts profile selector)."""

    id = serializers.IntegerField()
    email = serializers.EmailField()
    display_name = serializers.CharField()
    date_joined = serializers.DateTimeField()
    email_verified = serializers.BooleanField()
    capabilities = serializers.ListField(child=serializers.CharField(), help_text="Site capabilities held")
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    bio = serializers.CharField(allow_blank=True)
    avatar_url = serializers.CharField(allow_blank=True, help_text="Path of the profile picture ('' when none)")
    preferences = PreferencesSerializer()


class MeUpdateSerializer(serializers.Serializer):
    """`PATCH /me/`: any of these; the others keep their current values."""

    first_name = serializers.CharField(max_length=100, allow_blank=True, required=False)
    last_name = serializers.CharField(max_length=100, allow_blank=True, required=False)
    bio = serializers.CharField(max_length=2000, allow_blank=True, required=False)
    theme = serializers.ChoiceField(choices=THEMES, required=False)
    notify_email = serializers.BooleanField(required=False)
    notify_in_app = serializers.BooleanField(required=False)
    email_cadence = serializers.ChoiceField(choices=CADENCES, required=False)
