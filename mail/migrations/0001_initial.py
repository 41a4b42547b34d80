"""The mail app takes over its models from the taskforge package: the tables stay as they
are (they keep their names), only Django's state moves (taskforge 0004 lets go of them)."""

import django.db.models.deletion
import django.db.models.functions.datetime
from django.conf import settings
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
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("taskforge", "0003_outbox_relay"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
            migrations.CreateModel(
                name='EmailDelivery',
                fields=[
                    ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                    ('recipient', models.EmailField(max_length=254)),
                    ('kind', models.CharField(max_length=64)),
                    ('subject', models.CharField(max_length=255)),
                    ('status', models.CharField(choices=[('queued', 'Queued'), ('sending', 'Sending'), ('sent', 'Sent'), ('failed', 'Failed')], default='queued', max_length=16)),
                    ('attempts', models.PositiveIntegerField(default=0)),
                    ('last_error', models.TextField(blank=True, default='')),
                    ('idempotency_key', models.CharField(max_length=200, unique=True)),
                    ('message_id', models.CharField(max_length=255)),
                    ('created_at', models.DateTimeField(db_default=django.db.models.functions.datetime.Now())),
                    ('next_attempt_at', models.DateTimeField(db_default=django.db.models.functions.datetime.Now())),
                    ('claimed_at', models.DateTimeField(blank=True, null=True)),
                    ('sent_at', models.DateTimeField(blank=True, null=True)),
                    ('user', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ],
                options={
                    'verbose_name_plural': 'email deliveries',
                    'db_table': 'email_delivery',
                    'ordering': ['-created_at'],
                },
            ),
            migrations.CreateModel(
                name='EmailPayload',
                fields=[
                    ('delivery', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='payload', serialize=False, to='mail.emaildelivery')),
                    ('context', models.JSONField(default=dict)),
                ],
                options={
                    'db_table': 'email_payload',
                },
            ),
            migrations.CreateModel(
                name='DigestItem',
                fields=[
                    ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                    ('kind', models.CharField(max_length=64)),
                    ('summary', models.CharField(max_length=500)),
                    ('url', models.CharField(blank=True, default='', max_length=500)),
                    ('idempotency_key', models.CharField(max_length=200, unique=True)),
                    ('created_at', models.DateTimeField(db_default=django.db.models.functions.datetime.Now())),
                    ('status', models.CharField(choices=[('pending', 'Pending'), ('batched', 'In a digest'), ('dropped', 'Dropped (email turned off)')], default='pending', max_length=16)),
                    ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ('delivery', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='mail.emaildelivery')),
                ],
                options={
                    'db_table': 'email_digest_item',
                },
            ),
            migrations.AddIndex(
                model_name='emaildelivery',
                index=models.Index(fields=['status', 'next_attempt_at'], name='email_delivery_status_idx'),
            ),
            migrations.AddIndex(
                model_name='emaildelivery',
                index=models.Index(fields=['recipient', 'created_at'], name='email_delivery_recipient_idx'),
            ),
            migrations.AddIndex(
                model_name='emaildelivery',
                index=models.Index(fields=['user', 'kind', 'created_at'], name='email_delivery_user_kind_idx'),
            ),
            migrations.AddConstraint(
                model_name='emaildelivery',
                constraint=models.CheckConstraint(condition=models.Q(('status__in', ['queued', 'sending', 'sent', 'failed'])), name='email_delivery_status_valid'),
            ),
            migrations.AddIndex(
                model_name='digestitem',
                index=models.Index(condition=models.Q(('status', 'pending')), fields=['user', 'id'], name='digest_item_pending_idx'),
            ),
            ],
            database_operations=[],
        ),
        _content_types_follow(('emaildelivery', 'emailpayload', 'digestitem'), "mail"),
    ]
