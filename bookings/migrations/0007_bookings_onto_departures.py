"""Today's bookings move onto departures.

Each trip gets (or keeps) its departure on its current start date, with the trip's seats
and price (no override: the departure follows the trip's price). Every booking then
points at the departure of its trip and travel date. A booking whose date is not the
trip's start (a cancelled booking from before the date moved) gets a closed departure
on its own date, with the seats its live bookings hold (none, in practice), so history
keeps its meaning and nothing goes on sale by accident.

Bookings are protected by FORCE ROW LEVEL SECURITY, which binds the owner too: the
migration acts as the system for its own transaction (set_config(..., true)), which the
policies and the audit trigger read.
"""

from django.db import migrations
from django.db.models import F, Q, Sum


def forwards(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('rls.role', 'system', true), set_config('rls.request_id', 'migration bookings 0007', true)"
        )
    Trip = apps.get_model("bookings", "Trip")
    Departure = apps.get_model("bookings", "Departure")
    Booking = apps.get_model("bookings", "Booking")
    for trip in Trip.objects.order_by("pk").iterator(chunk_size=500):
        Departure.objects.get_or_create(
            trip=trip,
            date=trip.start,
            defaults={"capacity": trip.seats, "seats_taken": 0, "status": "open"},
        )
    # Bookings on a date that is not (or no longer) a departure of their trip.
    orphans = (
        Booking.objects.filter(departure__isnull=True)
        .exclude(Q(travel_date=F("trip__start")))
        .values_list("trip_id", "travel_date")
        .distinct()
    )
    for trip_code, travel_date in list(orphans):
        trip = Trip.objects.get(code=trip_code)
        live = (
            Booking.objects.filter(trip_id=trip_code, travel_date=travel_date)
            .exclude(status="cancelled")
            .aggregate(n=Sum("travellers"))["n"]
            or 0
        )
        Departure.objects.get_or_create(
            trip=trip,
            date=travel_date,
            defaults={"capacity": max(trip.seats, live), "seats_taken": live, "status": "closed"},
        )
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "UPDATE bookings_booking b SET departure_id = d.id FROM bookings_departure d "
            "JOIN bookings_trip t ON t.id = d.trip_id "
            "WHERE b.departure_id IS NULL AND t.code = b.trip_code AND d.date = b.travel_date"
        )


def backwards(apps, schema_editor):
    # The departure column is dropped by the schema migration before this one on the way back.
    pass


class Migration(migrations.Migration):
    dependencies = [("bookings", "0006_departures")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
