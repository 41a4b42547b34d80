"""Tasks: the list item, the full task (row + detail document), and the inputs of create,
update, move and the list's filters (validated further by the site's own TaskFilterForm and
by the tasks services)."""

from __future__ import annotations

from rest_framework import serializers

from tasks.models import TaskPriority, TaskStatus
from tasks.selectors.board import SORT_LABELS

SORTS = list(SORT_LABELS)


class TaskQuerySerializer(serializers.Serializer):
    """The list's filters: the task list page's own (forms.TaskFilterForm), and `q`."""

    team = serializers.SlugField(required=False, help_text="Only this team's tasks (its slug)")
    q = serializers.CharField(
        required=False,
        max_length=200,
        help_text="Search words (title, tags, description); typo-tolerant like the site's task search. "
        "Ranked results (at most 50); the other filters and `sort` do not apply.",
    )
    status = serializers.MultipleChoiceField(choices=TaskStatus.choices, required=False, help_text="Repeat for several")
    priority = serializers.MultipleChoiceField(choices=TaskPriority.choices, required=False)
    assignee = serializers.CharField(
        required=False, max_length=19, help_text="`me`, `none`, or a member's user id (with `team`)"
    )
    tag = serializers.CharField(required=False, max_length=40)
    due_from = serializers.DateField(required=False, help_text="Due on or after this day (UTC)")
    due_to = serializers.DateField(required=False, help_text="Due on or before this day (UTC)")
    overdue = serializers.BooleanField(required=False, help_text="Past due and not done")
    sort = serializers.ChoiceField(choices=SORTS, required=False, help_text="Default: priority (urgent first)")


class TaskListItemSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    team_id = serializers.IntegerField()
    title = serializers.CharField()
    status = serializers.ChoiceField(choices=TaskStatus.choices)
    priority = serializers.ChoiceField(choices=TaskPriority.choices)
    assignee_id = serializers.IntegerField(allow_null=True)
    creator_id = serializers.IntegerField(allow_null=True)
    due_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    done_at = serializers.DateTimeField(allow_null=True)
    version = serializers.IntegerField(help_text="Changes with every write; the ETag names it")


class TaskPageSerializer(serializers.Serializer):
    results = TaskListItemSerializer(many=True)
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    mode = serializers.ChoiceField(
        choices=["list", "search", "typo", "none"],
        help_text="`list` without `q`; `search`: the words as typed; `typo`: searched for `corrected_query`",
    )
    corrected_query = serializers.CharField(allow_blank=True)


class AttachmentSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    size = serializers.IntegerField()
    content_type = serializers.CharField()
    uploaded_by = serializers.IntegerField(allow_null=True)
    uploaded_at = serializers.CharField(help_text="RFC 3339")


class TaskSerializer(TaskListItemSerializer):
    team = serializers.SlugField(help_text="The team's slug")
    description = serializers.CharField(allow_blank=True)
    tags = serializers.ListField(child=serializers.CharField())
    custom_fields = serializers.DictField(help_text="The team's custom fields, by key")
    attachments = AttachmentSerializer(many=True)
    can_edit = serializers.BooleanField(help_text="You may change and move it")


class TaskWriteSerializer(serializers.Serializer):
    """The fields of a task (PATCH: only those that change)."""

    title = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=20_000, allow_blank=True, required=False)
    status = serializers.ChoiceField(choices=TaskStatus.choices, required=False)
    priority = serializers.ChoiceField(choices=TaskPriority.choices, required=False)
    assignee_id = serializers.IntegerField(allow_null=True, required=False, min_value=1, max_value=2**63 - 1)
    due_at = serializers.DateTimeField(allow_null=True, required=False)
    tags = serializers.ListField(child=serializers.CharField(max_length=40), max_length=20, required=False)
    custom_fields = serializers.DictField(required=False, help_text="Values by custom-field key")


class TaskCreateSerializer(TaskWriteSerializer):
    team = serializers.SlugField(help_text="The team's slug")


class TaskMoveSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=TaskStatus.choices, help_text="The column to move it to")
