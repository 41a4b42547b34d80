"""The sync app takes over its models from the taskforge package: the tables stay as they
are (they keep their names), only Django's state moves (taskforge 0004 lets go of them)."""

import django.db.models.functions.datetime
from django.db import migrations, models


def _content_types_follow(models_: tuple[str, ...], app_label: str):  # noqa: ANN202
    """The admin's history and any permissions keep pointing at the same content types."""

    def forward(apps, schema_editor):  # noqa: ANN001, ANN202
        content_type = apps.get_model("contenttypes", "ContentType")
        for model in models_:
            if not content_type.objects.filter(app_label=app_label, model=model).exists():
                content_type.objects.filter(app_label="taskforge", model=model).update(app_label=app_label)

    def backward(apps, schema_editor):  # noqa: ANN001, ANN202
        content_type = apps.get_model("contenttypes", "ContentType")
        content_type.objects.filter(app_label=app_label, model__in=models_).update(app_label="taskforge")

    return migrations.RunPython(forward, backward)


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("taskforge", "0003_outbox_relay"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
            migrations.CreateModel(
                name='SyncProbe',
                fields=[
                    ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                    ('name', models.CharField(max_length=200)),
                    ('version', models.PositiveIntegerField(default=1)),
                    ('updated_at', models.DateTimeField(db_default=django.db.models.functions.datetime.Now())),
                ],
                options={
                    'db_table': 'sync_probe',
                },
            ),
            migrations.CreateModel(
                name='SyncProbeSearch',
                fields=[
                    ('probe_id', models.BigIntegerField(primary_key=True, serialize=False)),
                    ('version', models.PositiveIntegerField()),
                    ('name', models.CharField(blank=True, default='', max_length=200)),
                    ('deleted', models.BooleanField(default=False)),
                ],
                options={
                    'db_table': 'sync_probe_search',
                },
            ),
            migrations.CreateModel(
                name='OutboxEvent',
                fields=[
                    ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                    ('aggregate_type', models.CharField(max_length=64)),
                    ('aggregate_id', models.CharField(max_length=64)),
                    ('version', models.BigIntegerField()),
                    ('event_type', models.CharField(max_length=64)),
                    ('payload', models.JSONField(default=dict)),
                    ('created_at', models.DateTimeField(db_default=django.db.models.functions.datetime.Now())),
                    ('status', models.CharField(choices=[('pending', 'Pending'), ('applied', 'Applied'), ('dead', 'Dead letter')], default='pending', max_length=16)),
                    ('attempts', models.PositiveIntegerField(default=0)),
                    ('next_attempt_at', models.DateTimeField(db_default=django.db.models.functions.datetime.Now())),
                    ('last_error', models.TextField(blank=True, default='')),
                    ('applied_at', models.DateTimeField(blank=True, null=True)),
                    ('lag_ms', models.PositiveIntegerField(blank=True, help_text='created_at to applied_at, in ms', null=True)),
                    ('locked_by', models.CharField(blank=True, default='', help_text='relay claim token', max_length=64)),
                ],
                options={
                    'db_table': 'outbox_event',
                    'indexes': [models.Index(condition=models.Q(('status', 'pending')), fields=['next_attempt_at', 'id'], name='outbox_pending_idx'), models.Index(fields=['aggregate_type', 'aggregate_id', 'version'], name='outbox_aggregate_idx'), models.Index(condition=models.Q(('status', 'applied')), fields=['applied_at'], name='outbox_applied_idx'), models.Index(condition=models.Q(('status', 'dead')), fields=['id'], name='outbox_dead_idx')],
                },
            ),
            ],
            database_operations=[],
        ),
        _content_types_follow(('outboxevent', 'syncprobe', 'syncprobesearch'), "sync"),
    ]
