"""Each person's time zone (issue 19): a preference embedded in the profile; documents
written before it read as UTC (accounts.selectors normalises a missing value)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0008_profile_typed_values'),
    ]

    operations = [
        migrations.AddField(
            model_name='profilepreferences',
            name='time_zone',
            field=models.CharField(default='UTC', help_text='Time zone (IANA name, e.g. Europe/Berlin).', max_length=64),
        ),
    ]
