"""The tasks app's content models on the `mongodb` alias (the router sends these operations
only there). A dev database may already hold these collections (written by MongoEngine-era
code): then only the indexes are created, and 0007 converts the old documents."""

import django_mongodb_backend.fields
from django.db import migrations, models

import tasks.models.content

# The single-field indexes MongoEngine made, by collection (0007 drops any left).
OLD_INDEXES = {
    "task_details": ("team_id_1",),
    "task_comments": ("task_id_1",),
    "notifications": ("user_id_1", "user_id_1_created_at_-1"),
}


class CreateCollection(migrations.CreateModel):
    """CreateModel that keeps an existing collection (and its documents)."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        model = to_state.apps.get_model(app_label, self.name)
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return
        database = schema_editor.get_database()
        if model._meta.db_table in database.list_collection_names():
            # MongoEngine-era single-field indexes (listed in 0007) would clash with the
            # model's indexes on the same keys under other names: they go first.
            collection = database[model._meta.db_table]
            for index in OLD_INDEXES.get(model._meta.db_table, ()):
                if index in collection.index_information():
                    collection.drop_index(index)
            schema_editor._create_model_indexes(model)
        else:
            schema_editor.create_model(model)


class Migration(migrations.Migration):
    dependencies = [
        ("tasks", "0005_search_vocabulary"),
    ]

    operations = [
        migrations.CreateModel(
            name="Attachment",
            fields=[
                (
                    "id",
                    models.CharField(
                        help_text="Random hex id used in download URLs.",
                        max_length=32,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                (
                    "name",
                    models.CharField(help_text="The cleaned file name shown and used on download.", max_length=200),
                ),
                ("size", models.PositiveBigIntegerField(help_text="Size in bytes.")),
                (
                    "content_type",
                    models.CharField(
                        help_text="The type the file is served as (sniffed, not trusted).", max_length=100
                    ),
                ),
                ("stored_name", models.CharField(help_text="Server-made hex name of the file on disk.", max_length=64)),
                (
                    "uploaded_by",
                    models.IntegerField(blank=True, help_text="Id of the user who uploaded it.", null=True),
                ),
                ("uploaded_at", models.DateTimeField(blank=True, help_text="When it was uploaded.", null=True)),
            ],
            options={
                "abstract": False,
            },
        ),
        CreateCollection(
            name="TaskDetail",
            fields=[
                (
                    "id",
                    models.CharField(
                        db_column="_id",
                        help_text="The task's UUID (text).",
                        max_length=36,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                (
                    "team_id",
                    models.IntegerField(blank=True, db_index=True, help_text="Id of the task's team.", null=True),
                ),
                (
                    "version",
                    models.PositiveIntegerField(
                        default=0, help_text="The task's detail_version this document reflects."
                    ),
                ),
                (
                    "title",
                    models.CharField(blank=True, default="", help_text="Copy of the task title.", max_length=200),
                ),
                ("description", models.TextField(blank=True, default="", help_text="Markdown description.")),
                (
                    "tags",
                    django_mongodb_backend.fields.ArrayField(
                        base_field=models.CharField(max_length=40),
                        blank=True,
                        default=list,
                        help_text="Tags, in order.",
                    ),
                ),
                (
                    "custom_fields",
                    models.JSONField(blank=True, default=dict, help_text="Custom-field values by field key."),
                ),
                (
                    "attachments",
                    django_mongodb_backend.fields.EmbeddedModelArrayField(
                        blank=True,
                        default=list,
                        embedded_model=tasks.models.content.Attachment,
                        help_text="Files of the task.",
                    ),
                ),
                (
                    "deleted",
                    models.BooleanField(default=False, help_text="A tombstone: the task was deleted at `version`."),
                ),
                (
                    "updated_at",
                    models.DateTimeField(blank=True, help_text="When the handler last wrote it.", null=True),
                ),
            ],
            options={
                "verbose_name": "task detail",
                "db_table": "task_details",
            },
        ),
        CreateCollection(
            name="Notification",
            fields=[
                (
                    "id",
                    models.CharField(
                        db_column="_id",
                        help_text="The outbox aggregate id (idempotency key).",
                        max_length=100,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                ("user_id", models.IntegerField(help_text="Id of the person notified.")),
                (
                    "kind",
                    models.CharField(
                        help_text="What happened (tasks.services.notifications.NOTIFICATION_KINDS).", max_length=40
                    ),
                ),
                ("read", models.BooleanField(default=False, help_text="Whether the person has read it.")),
                (
                    "task_id",
                    models.CharField(blank=True, default="", help_text="The task's UUID (text).", max_length=36),
                ),
                ("team_id", models.IntegerField(blank=True, help_text="Id of the task's team.", null=True)),
                (
                    "actor_id",
                    models.IntegerField(
                        blank=True, db_index=True, help_text="Id of who caused it (or none).", null=True
                    ),
                ),
                (
                    "title",
                    models.CharField(
                        blank=True, default="", help_text="The task title when it happened.", max_length=200
                    ),
                ),
                ("message", models.CharField(blank=True, default="", help_text="What is shown.", max_length=500)),
                ("created_at", models.DateTimeField(help_text="When it happened.")),
                ("read_at", models.DateTimeField(blank=True, help_text="When it was read.", null=True)),
            ],
            options={
                "db_table": "notifications",
                "indexes": [
                    models.Index(fields=["user_id", "read", "-created_at"], name="notifications_user_unread_new"),
                    models.Index(fields=["task_id", "user_id", "read"], name="notifications_task_user_read"),
                ],
            },
        ),
        CreateCollection(
            name="TaskComment",
            fields=[
                ("id", django_mongodb_backend.fields.ObjectIdAutoField(primary_key=True, serialize=False)),
                ("task_id", models.CharField(help_text="The task's UUID (text).", max_length=36)),
                ("team_id", models.IntegerField(blank=True, help_text="Id of the task's team.", null=True)),
                (
                    "author_id",
                    models.IntegerField(blank=True, db_index=True, help_text="Id of the user who wrote it.", null=True),
                ),
                ("body", models.TextField(help_text="Markdown text.")),
                (
                    "mentions",
                    django_mongodb_backend.fields.ArrayField(
                        base_field=models.IntegerField(),
                        blank=True,
                        default=list,
                        help_text="Ids of mentioned members.",
                    ),
                ),
                (
                    "attachments",
                    django_mongodb_backend.fields.EmbeddedModelArrayField(
                        blank=True,
                        default=list,
                        embedded_model=tasks.models.content.Attachment,
                        help_text="Files of the comment.",
                    ),
                ),
                ("created_at", models.DateTimeField(help_text="When it was written.")),
                ("edited_at", models.DateTimeField(blank=True, help_text="When its text last changed.", null=True)),
                (
                    "hidden",
                    models.BooleanField(
                        default=False, help_text="Hidden by a moderator: the task page shows a placeholder."
                    ),
                ),
                (
                    "moderated_by",
                    models.IntegerField(blank=True, help_text="Id of the site admin who last moderated it.", null=True),
                ),
                (
                    "moderated_at",
                    models.DateTimeField(blank=True, help_text="When a site admin last moderated it.", null=True),
                ),
                (
                    "legacy_id",
                    models.CharField(
                        blank=True,
                        db_index=True,
                        editable=False,
                        help_text="Its id before ObjectIds (hex UUID), so old links still find it.",
                        max_length=32,
                        default="",
                    ),
                ),
            ],
            options={
                "verbose_name": "task comment",
                "db_table": "task_comments",
                "indexes": [models.Index(fields=["task_id", "-created_at"], name="task_comments_task_newest")],
            },
        ),
    ]
