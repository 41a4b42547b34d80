"""Every booking now has its departure (0007 put them there): the column becomes required."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("bookings", "0007_bookings_onto_departures")]

    operations = [
        migrations.AlterField(
            model_name="booking",
            name="departure",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT, related_name="bookings", to="bookings.departure"
            ),
        ),
    ]
