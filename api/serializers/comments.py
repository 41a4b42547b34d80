"""Comments on a task and the files attached to a task: the representations and the inputs
(checked further by the tasks services: the body's length, the file's content)."""

from __future__ import annotations

from rest_framework import serializers

from api.serializers.tasks import AttachmentSerializer
from tasks.services.comments import COMMENT_MAX


class CommentSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="The comment's id")
    task_id = serializers.UUIDField()
    author_id = serializers.IntegerField(allow_null=True)
    body = serializers.CharField(allow_blank=True, help_text="Markdown; empty when a moderator hid the comment")
    mentions = serializers.ListField(child=serializers.IntegerField(), help_text="Ids of the members it mentions")
    attachments = AttachmentSerializer(many=True, help_text="Download with the task's attachment endpoint")
    created_at = serializers.DateTimeField()
    edited_at = serializers.DateTimeField(allow_null=True)
    hidden = serializers.BooleanField(help_text="Hidden by a moderator: no text and no files")
    can_change = serializers.BooleanField(help_text="You may edit and delete it (its author, or a team admin)")


class CommentWriteSerializer(serializers.Serializer):
    body = serializers.CharField(
        max_length=COMMENT_MAX, help_text="Markdown. Mention teammates with @handle or @email."
    )


class AttachmentUploadSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text="PNG, JPEG, GIF, WebP, PDF or plain text, up to the site's size limit; its content must match "
        "its name"
    )
