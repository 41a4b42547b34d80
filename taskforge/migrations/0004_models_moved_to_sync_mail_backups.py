"""The outbox, email and backup models moved to their own apps (sync, mail, backups): state
only, the tables stay (those apps' 0001 migrations take them over)."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('taskforge', '0003_outbox_relay'),
        ('sync', '0001_initial'),
        ('mail', '0001_initial'),
        ('backups', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
            migrations.DeleteModel(
                name='BackupRecord',
            ),
            migrations.RemoveField(
                model_name='digestitem',
                name='delivery',
            ),
            migrations.RemoveField(
                model_name='digestitem',
                name='user',
            ),
            migrations.RemoveField(
                model_name='emaildelivery',
                name='user',
            ),
            migrations.RemoveField(
                model_name='emailpayload',
                name='delivery',
            ),
            migrations.DeleteModel(
                name='OutboxEvent',
            ),
            migrations.DeleteModel(
                name='SyncProbe',
            ),
            migrations.DeleteModel(
                name='SyncProbeSearch',
            ),
            migrations.DeleteModel(
                name='DigestItem',
            ),
            migrations.DeleteModel(
                name='EmailDelivery',
            ),
            migrations.DeleteModel(
                name='EmailPayload',
            ),
            ],
            database_operations=[],
        ),
    ]
