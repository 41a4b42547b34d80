"""In-app notifications."""

from __future__ import annotations

from rest_framework import serializers


class NotificationSerializer(serializers.Serializer):
    id = serializers.CharField(source="nid")
    kind = serializers.CharField(help_text="e.g. task_assigned, task_status, mention, task_due")
    read = serializers.BooleanField()
    task_id = serializers.CharField(allow_null=True, allow_blank=True)
    team_id = serializers.IntegerField(allow_null=True)
    actor_id = serializers.IntegerField(allow_null=True)
    title = serializers.CharField(allow_blank=True)
    message = serializers.CharField(allow_blank=True)
    url = serializers.CharField(allow_blank=True, allow_null=True, help_text="The page it is about, on the site")
    created_at = serializers.DateTimeField()
    read_at = serializers.DateTimeField(allow_null=True)


class NotificationReadSerializer(serializers.Serializer):
    id = serializers.CharField()
    read = serializers.BooleanField()
    changed = serializers.BooleanField(help_text="false: it was already read")


class NotificationsReadAllSerializer(serializers.Serializer):
    marked = serializers.IntegerField(help_text="How many were unread")
