
import django.db.models.deletion
import django.db.models.expressions
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('bookings', '0008_booking_departure_required'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='WaitlistEntry',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('travellers', models.PositiveSmallIntegerField()),
                ('status', models.CharField(choices=[('waiting', 'Waiting'), ('offered', 'Offered'), ('accepted', 'Accepted'), ('declined', 'Declined'), ('expired', 'Expired'), ('withdrawn', 'Withdrawn')], default='waiting', max_length=16)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('offered_at', models.DateTimeField(blank=True, null=True)),
                ('offer_expires_at', models.DateTimeField(blank=True, null=True)),
                ('offer_unit_price_minor', models.BigIntegerField(blank=True, help_text='Price per person held.', null=True)),
                ('closed_at', models.DateTimeField(blank=True, null=True)),
            ],
            options={
                'db_table': 'bookings_waitlist_entry',
                'ordering': ['created_at', 'id'],
            },
        ),
        migrations.AddField(
            model_name='departure',
            name='seats_held',
            field=models.PositiveIntegerField(db_default=0, default=0, help_text='Seats held by live waiting-list offers (not for sale).'),
        ),
        migrations.AddConstraint(
            model_name='departure',
            constraint=models.CheckConstraint(condition=models.Q(('seats_held__gte', 0), ('seats_held__lte', django.db.models.expressions.CombinedExpression(models.F('capacity'), '-', models.F('seats_taken')))), name='bookings_departure_holds_fit'),
        ),
        migrations.AddField(
            model_name='waitlistentry',
            name='booking',
            field=models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='waitlist_entry', to='bookings.booking'),
        ),
        migrations.AddField(
            model_name='waitlistentry',
            name='departure',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='waitlist_entries', to='bookings.departure'),
        ),
        migrations.AddField(
            model_name='waitlistentry',
            name='user',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='waitlist_entries', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddIndex(
            model_name='waitlistentry',
            index=models.Index(condition=models.Q(('status__in', ['waiting', 'offered'])), fields=['departure', 'created_at'], name='bookings_waitlist_line_idx'),
        ),
        migrations.AddIndex(
            model_name='waitlistentry',
            index=models.Index(condition=models.Q(('status', 'offered')), fields=['offer_expires_at'], name='bookings_waitlist_expiry_idx'),
        ),
        migrations.AddConstraint(
            model_name='waitlistentry',
            constraint=models.CheckConstraint(condition=models.Q(('travellers__gt', 0)), name='bookings_waitlist_travellers_positive'),
        ),
        migrations.AddConstraint(
            model_name='waitlistentry',
            constraint=models.CheckConstraint(condition=models.Q(('status__in', ['waiting', 'offered', 'accepted', 'declined', 'expired', 'withdrawn'])), name='bookings_waitlist_status_valid'),
        ),
        migrations.AddConstraint(
            model_name='waitlistentry',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('status', 'offered'), _negated=True), models.Q(('offer_expires_at__isnull', False), ('offer_unit_price_minor__gt', 0)), _connector='OR'), name='bookings_waitlist_offer_complete'),
        ),
        migrations.AddConstraint(
            model_name='waitlistentry',
            constraint=models.UniqueConstraint(condition=models.Q(('status__in', ['waiting', 'offered'])), fields=('user', 'departure'), name='bookings_waitlist_one_live_entry'),
        ),
    ]
