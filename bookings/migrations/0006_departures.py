
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('bookings', '0005_trip_content'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='departure',
            options={'ordering': ['date', 'id']},
        ),
        migrations.AddField(
            model_name='booking',
            name='departure',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name='bookings', to='bookings.departure'),
        ),
        migrations.AddField(
            model_name='departure',
            name='cancel_reason',
            field=models.CharField(blank=True, db_default='', default='', max_length=500),
        ),
        migrations.AddField(
            model_name='departure',
            name='cancelled_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='departure',
            name='price_minor',
            field=models.BigIntegerField(blank=True, help_text="Price per person for this departure; empty = the trip's price.", null=True),
        ),
        migrations.AddField(
            model_name='departure',
            name='status',
            field=models.CharField(choices=[('open', 'Open'), ('closed', 'Closed'), ('cancelled', 'Cancelled')], db_default='open', default='open', max_length=16),
        ),
        migrations.AlterField(
            model_name='departure',
            name='capacity',
            field=models.PositiveIntegerField(help_text='Seats on this departure.'),
        ),
        migrations.AddIndex(
            model_name='booking',
            index=models.Index(condition=models.Q(('status', 'cancelled'), _negated=True), fields=['departure'], name='bookings_live_by_departure_idx'),
        ),
        migrations.AddIndex(
            model_name='departure',
            index=models.Index(fields=['status', 'date'], name='bookings_departure_status_idx'),
        ),
        migrations.AddConstraint(
            model_name='departure',
            constraint=models.CheckConstraint(condition=models.Q(('price_minor__isnull', True), ('price_minor__gt', 0), _connector='OR'), name='bookings_departure_price_positive'),
        ),
        migrations.AddConstraint(
            model_name='departure',
            constraint=models.CheckConstraint(condition=models.Q(('status__in', ['open', 'closed', 'cancelled'])), name='bookings_departure_status_valid'),
        ),
    ]
