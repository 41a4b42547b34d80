"""Tasks: the relational task rows, custom-field definitions, watchers and the search projection.

The task *detail* (description, tags, custom-field values, attachment metadata),
comments and notifications are content models in MongoDB (tasks/models/content.py); the
row here is what boards, filters, joins and RLS need.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.urls import reverse
from django_rls.models import RLSModel

from taskforge.rls import CTX_IS_ADMIN, CTX_USER_ID, SelectPolicy
from taskforge.search import Vocabulary

# Visible when the context user belongs to the task's team (or the context is a site
# admin: the Django admin, seeding and system jobs). The sub-select is evaluated once
# per statement (a hashed sub-plan), not once per row.
TEAM_MEMBER_SQL = (
    f"({CTX_IS_ADMIN} OR team_id IN (SELECT m.team_id FROM accounts_membership m WHERE m.user_id = {CTX_USER_ID}))"
)


class TaskStatus(models.TextChoices):
    BACKLOG = "backlog", "Backlog"
    TODO = "todo", "To do"
    IN_PROGRESS = "in_progress", "In progress"
    IN_REVIEW = "in_review", "In review"
    DONE = "done", "Done"


class TaskPriority(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    URGENT = "urgent", "Urgent"


PRIORITY_RANK = {"low": 0, "medium": 1, "high": 2, "urgent": 3}


class TeamTaskPolicy(SelectPolicy):
    """One policy for every command: rows of teams the context user belongs to."""

    def __init__(self, name: str) -> None:
        super().__init__(name, TEAM_MEMBER_SQL, operation="ALL")

    def get_check_expression(self) -> str:
        return TEAM_MEMBER_SQL


class Task(RLSModel):
    """A unit of work on a team's board. `version` guards against lost updates: every
    write is `UPDATE ... WHERE id = %s AND version = %s` and a stale edit is refused."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    team = models.ForeignKey("accounts.Team", on_delete=models.CASCADE, related_name="tasks")
    title = models.CharField(max_length=200)
    status = models.CharField(max_length=16, choices=TaskStatus.choices, default=TaskStatus.TODO)
    priority = models.CharField(max_length=16, choices=TaskPriority.choices, default=TaskPriority.MEDIUM)
    # A composite foreign key (team_id, assignee_id) -> accounts_membership (migration 0002)
    # makes "the assignee is a member of the team" a database rule too.
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="assigned_tasks"
    )
    creator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="created_tasks"
    )
    due_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now_add=True)
    # When the task last reached "done" (for the created-vs-done chart); cleared when reopened.
    done_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)
    # The row version at which the detail document (and search row) was last written: the
    # document is current when its version equals this (board moves bump only `version`).
    detail_version = models.PositiveIntegerField(default=1)

    class Meta:
        db_table = "tasks_task"
        indexes = [
            models.Index(fields=["team", "status", "created_at"], name="tasks_task_team_status_idx"),
            models.Index(fields=["assignee", "status"], name="tasks_task_assignee_idx"),
            models.Index(fields=["team", "due_at"], name="tasks_task_team_due_idx"),
            models.Index(fields=["team", "done_at"], name="tasks_task_team_done_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(status__in=TaskStatus.values), name="tasks_task_status_valid"),
            models.CheckConstraint(
                condition=models.Q(priority__in=TaskPriority.values), name="tasks_task_priority_valid"
            ),
            models.CheckConstraint(condition=models.Q(version__gte=1), name="tasks_task_version_positive"),
        ]
        rls_policies = [TeamTaskPolicy("tasks_task_team_members")]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("tasks:detail", kwargs={"task_id": self.id})

    @property
    def priority_rank(self) -> int:
        return PRIORITY_RANK.get(self.priority, 0)


class CustomFieldType(models.TextChoices):
    TEXT = "text", "Text"
    NUMBER = "number", "Number"
    DATE = "date", "Date"
    CHOICE = "choice", "Choice"


class TeamCustomField(models.Model):
    """A custom field a team defines for its tasks; values live in the task's detail document."""

    team = models.ForeignKey("accounts.Team", on_delete=models.CASCADE, related_name="custom_fields")
    key = models.SlugField(max_length=40)
    label = models.CharField(max_length=80)
    field_type = models.CharField(max_length=16, choices=CustomFieldType.choices)
    choices = models.JSONField(default=list, blank=True)
    required = models.BooleanField(default=False)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = "tasks_team_custom_field"
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["team", "key"], name="tasks_custom_field_unique_key"),
            models.CheckConstraint(
                condition=models.Q(field_type__in=CustomFieldType.values), name="tasks_custom_field_type_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.team_id}:{self.key}"


class TaskWatcher(models.Model):
    """Someone who follows a task (creator, assignee, commenters, or by choice)."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="watchers")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="watched_tasks")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "tasks_task_watcher"
        constraints = [models.UniqueConstraint(fields=["task", "user"], name="tasks_watcher_unique")]

    def __str__(self) -> str:
        return f"{self.user_id} watches {self.task_id}"


class TaskSearch(models.Model):
    """Search projection of a task (title, description, tags), maintained by the outbox handler.

    Not a foreign key: the relay applies events without a user context (RLS hides task rows
    then) and may apply an old event after the task was deleted. Reads always join through
    Task, so row-level security on tasks decides what a search can return.
    """

    AUDIT = False  # a projection; the task and its detail are audited where they change

    task = models.OneToOneField(
        Task, on_delete=models.DO_NOTHING, primary_key=True, db_constraint=False, related_name="search"
    )
    team_id = models.BigIntegerField()
    version = models.PositiveIntegerField()
    title = models.CharField(max_length=200, blank=True, default="")
    body = models.TextField(blank=True, default="")
    tags = models.JSONField(default=list, blank=True)
    document = SearchVectorField(null=True)
    deleted = models.BooleanField(default=False)

    class Meta:
        db_table = "tasks_task_search"
        indexes = [
            GinIndex(fields=["document"], name="tasks_search_document_idx"),
            GinIndex(fields=["tags"], name="tasks_search_tags_idx"),
        ]

    def __str__(self) -> str:
        return f"search:{self.task_id}@{self.version}"


class TaskSearchWord(models.Model):
    """The vocabulary of a team's task search (words of titles, tags and descriptions), for
    typo correction (taskforge.search): a misspelt query word is replaced by its nearest
    word here (trigram distance, GiST index from migration 0005) before the full-text search.

    Per team, so a correction only ever uses words of the reader's own teams. Filled by the
    outbox handler with the search projection; words are never removed (a stale word only
    finds nothing).
    """

    AUDIT = False  # derived data

    pk = models.CompositePrimaryKey("team_id", "word")
    team_id = models.BigIntegerField()
    word = models.CharField(max_length=60)

    class Meta:
        db_table = "tasks_search_word"

    def __str__(self) -> str:
        return f"{self.team_id}:{self.word}"


TASK_VOCABULARY = Vocabulary(TaskSearchWord._meta.db_table, scope_column="team_id")
