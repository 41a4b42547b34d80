"""The backups app takes over its models from the taskforge package: the tables stay as they
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
                name='BackupRecord',
                fields=[
                    ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                    ('path', models.CharField(max_length=500, unique=True)),
                    ('slot', models.CharField(blank=True, max_length=64, null=True)),
                    ('status', models.CharField(choices=[('running', 'Running'), ('ok', 'Complete'), ('failed', 'Failed'), ('deleted', 'Deleted by retention')], default='running', max_length=16)),
                    ('started_at', models.DateTimeField(db_default=django.db.models.functions.datetime.Now())),
                    ('finished_at', models.DateTimeField(blank=True, null=True)),
                    ('size_bytes', models.BigIntegerField(blank=True, null=True)),
                    ('manifest_sha256', models.CharField(blank=True, default='', max_length=64)),
                    ('error', models.TextField(blank=True, default='')),
                    ('verified_at', models.DateTimeField(blank=True, null=True)),
                    ('verify_ok', models.BooleanField(blank=True, null=True)),
                    ('verify_result', models.JSONField(blank=True, null=True)),
                ],
                options={
                    'db_table': 'backup_record',
                    'ordering': ['-started_at'],
                    'indexes': [models.Index(fields=['verified_at'], name='backup_record_verified_idx')],
                    'constraints': [models.UniqueConstraint(condition=models.Q(('status__in', ['running', 'ok'])), fields=('slot',), name='backup_record_slot_once'), models.CheckConstraint(condition=models.Q(('status__in', ['running', 'ok', 'failed', 'deleted'])), name='backup_record_status_valid')],
                },
            ),
            ],
            database_operations=[],
        ),
        _content_types_follow(('backuprecord',), "backups"),
    ]
