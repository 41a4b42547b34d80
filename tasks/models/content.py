"""Content models of the tasks app: documents in MongoDB (the `mongodb` alias, see
taskforge/routers.py CONTENT_MODELS), through django-mongodb-backend.

* TaskDetail: the flexible half of a task row (written only by the outbox handler);
* TaskComment: a comment on a task (MongoDB is its source of truth; audited by the service);
* Notification: an in-app notification for one person (created once by the outbox handler);
* Attachment: the metadata of a stored file, embedded in details and comments.

Relations to PostgreSQL rows are plain ids (a task's UUID as text, a user's or team's
integer id), never foreign keys. Nothing here holds money. The collection names
(`db_table`) are the ones backups, the relay and the benchmarks refer to.

Hot queries (each a single condition plus a sort, or a plain filter document through
`documents_collection`; see the explain tests in tasks/tests/test_content_store.py):
a task's detail by its id (`_id`), a task's comments newest (or oldest) first, a person's
notifications unread first then newest first, and a person's unread count.
"""

from __future__ import annotations

from django.db import models
from django_mongodb_backend.fields import ArrayField, EmbeddedModelArrayField, ObjectIdAutoField
from django_mongodb_backend.models import EmbeddedModel


class Attachment(EmbeddedModel):
    """Metadata of a file attached to a task or a comment; the bytes are on disk under
    MEDIA_ROOT/attachments/<task id>/<stored_name> (tasks/attachments.py)."""

    id = models.CharField(primary_key=True, max_length=32, help_text="Random hex id used in download URLs.")
    name = models.CharField(max_length=200, help_text="The cleaned file name shown and used on download.")
    size = models.PositiveBigIntegerField(help_text="Size in bytes.")
    content_type = models.CharField(max_length=100, help_text="The type the file is served as (sniffed, not trusted).")
    stored_name = models.CharField(max_length=64, help_text="Server-made hex name of the file on disk.")
    uploaded_by = models.IntegerField(null=True, blank=True, help_text="Id of the user who uploaded it.")
    uploaded_at = models.DateTimeField(null=True, blank=True, help_text="When it was uploaded.")

    def __str__(self) -> str:
        return self.name


class TaskDetail(models.Model):
    """The flexible part of a task: markdown description, tags, custom-field values and
    attachment metadata. Its source of truth is the task row and its outbox events: written
    only by the outbox handler (tasks/sync.py, a version-guarded upsert keyed by the task
    id), versioned by the row's detail_version; a deleted task leaves a tombstone (`deleted`).
    """

    id = models.CharField(primary_key=True, max_length=36, db_column="_id", help_text="The task's UUID (text).")
    team_id = models.IntegerField(null=True, blank=True, db_index=True, help_text="Id of the task's team.")
    version = models.PositiveIntegerField(default=0, help_text="The task's detail_version this document reflects.")
    title = models.CharField(max_length=200, blank=True, default="", help_text="Copy of the task title.")
    description = models.TextField(blank=True, default="", help_text="Markdown description.")
    tags = ArrayField(models.CharField(max_length=40), default=list, blank=True, help_text="Tags, in order.")
    custom_fields = models.JSONField(default=dict, blank=True, help_text="Custom-field values by field key.")
    attachments = EmbeddedModelArrayField(Attachment, default=list, blank=True, help_text="Files of the task.")
    deleted = models.BooleanField(default=False, help_text="A tombstone: the task was deleted at `version`.")
    updated_at = models.DateTimeField(null=True, blank=True, help_text="When the handler last wrote it.")

    class Meta:
        db_table = "task_details"
        verbose_name = "task detail"

    def __str__(self) -> str:
        return self.title or self.id


class TaskComment(models.Model):
    """A comment on a task. MongoDB is its source of truth: tasks/services/comments.py writes
    it, audited (audit_content_record, table "task_comment") in the PostgreSQL transaction
    that also records its notifications. A site admin may hide it or edit its text
    (moderation, audited the same way); a hidden comment shows as "hidden by a moderator".
    """

    id = ObjectIdAutoField(primary_key=True)
    task_id = models.CharField(max_length=36, help_text="The task's UUID (text).")
    team_id = models.IntegerField(null=True, blank=True, help_text="Id of the task's team.")
    author_id = models.IntegerField(null=True, blank=True, db_index=True, help_text="Id of the user who wrote it.")
    body = models.TextField(help_text="Markdown text.")
    mentions = ArrayField(models.IntegerField(), default=list, blank=True, help_text="Ids of mentioned members.")
    attachments = EmbeddedModelArrayField(Attachment, default=list, blank=True, help_text="Files of the comment.")
    created_at = models.DateTimeField(help_text="When it was written.")
    edited_at = models.DateTimeField(null=True, blank=True, help_text="When its text last changed.")
    hidden = models.BooleanField(default=False, help_text="Hidden by a moderator: the task page shows a placeholder.")
    moderated_by = models.IntegerField(null=True, blank=True, help_text="Id of the site admin who last moderated it.")
    moderated_at = models.DateTimeField(null=True, blank=True, help_text="When a site admin last moderated it.")
    legacy_id = models.CharField(
        max_length=32,
        blank=True,
        default="",
        editable=False,
        db_index=True,
        help_text="Its id before ObjectIds (hex UUID), so old links still find it.",
    )

    class Meta:
        db_table = "task_comments"
        verbose_name = "task comment"
        indexes = [
            # A task's comments, newest first (read backwards for oldest first).
            models.Index(fields=["task_id", "-created_at"], name="task_comments_task_newest"),
        ]

    def __str__(self) -> str:
        return f"comment {self.pk} on task {self.task_id}"


class Notification(models.Model):
    """An in-app notification for one person, created once by the outbox handler (its id is
    the outbox aggregate id, so a replay is a duplicate key). `read` is a real boolean; Redis
    holds the unread count (tasks.caching), recomputed from here on a miss.
    """

    id = models.CharField(
        primary_key=True, max_length=100, db_column="_id", help_text="The outbox aggregate id (idempotency key)."
    )
    user_id = models.IntegerField(help_text="Id of the person notified.")
    kind = models.CharField(max_length=40, help_text="What happened (tasks.services.notifications.NOTIFICATION_KINDS).")
    read = models.BooleanField(default=False, help_text="Whether the person has read it.")
    task_id = models.CharField(max_length=36, blank=True, default="", help_text="The task's UUID (text).")
    team_id = models.IntegerField(null=True, blank=True, help_text="Id of the task's team.")
    actor_id = models.IntegerField(null=True, blank=True, db_index=True, help_text="Id of who caused it (or none).")
    title = models.CharField(max_length=200, blank=True, default="", help_text="The task title when it happened.")
    message = models.CharField(max_length=500, blank=True, default="", help_text="What is shown.")
    url = models.CharField(
        max_length=300, blank=True, default="", help_text="Where it links when it is not about a task (a booking)."
    )
    created_at = models.DateTimeField(help_text="When it happened.")
    read_at = models.DateTimeField(null=True, blank=True, help_text="When it was read.")

    class Meta:
        db_table = "notifications"
        indexes = [
            # A person's notifications, unread first (False < True), then newest first; its
            # prefix (user_id, read) also serves the unread count.
            models.Index(fields=["user_id", "read", "-created_at"], name="notifications_user_unread_new"),
            # Opening a task reads the person's unread notifications about it (every task page);
            # led by task_id so the person's list above never picks it.
            models.Index(fields=["task_id", "user_id", "read"], name="notifications_task_user_read"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for user {self.user_id}"
