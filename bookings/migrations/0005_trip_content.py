"""Trip content becomes the TripContent model on the `mongodb` alias (collection "trips").

A development database made before this migration already has a "trips" collection (written
by the MongoEngine code, with its own indexes), and creating the model's collection would
fail on it. So the old collection is set aside first, the model's collection and indexes are
created, and the old documents are copied back in the model's types (real datetimes and
booleans, integer money, itinerary subdocuments), then the old collection is dropped.
On a new database the two steps do nothing.
"""

import datetime as dt

import django_mongodb_backend.fields
from django.db import migrations, models

import bookings.models

LEGACY = "trips_before_0005"
HINTS = {"model_name": "tripcontent"}  # the router sends these steps to the mongodb alias only


def _datetime(value):
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, dt.datetime):
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def legacy_document(doc):
    """An old trip document in the model's types (the relay's field set)."""
    start = _datetime(doc.get("start"))
    itinerary = [
        {"day": int(d.get("day") or i + 1), "title": str(d.get("title", "")), "details": str(d.get("details", ""))}
        for i, d in enumerate(doc.get("itinerary") or [])
        if isinstance(d, dict)
    ]
    return {
        "_id": doc["_id"],
        "code": doc.get("code") or doc["_id"],
        "name": doc.get("name") or doc["_id"],
        "resort": doc.get("resort", ""),
        "length_days": int(doc.get("length_days") or 1),
        "start": start.replace(hour=0, minute=0, second=0, microsecond=0) if start else None,
        "price_minor": int(doc.get("price_minor") or 0),
        "currency": doc.get("currency", ""),
        "price_range": doc.get("price_range", ""),
        "image": doc.get("image", ""),
        "thumbnail": doc.get("thumbnail", ""),
        "description_md": doc.get("description_md", ""),
        "keywords": [str(k) for k in doc.get("keywords") or []],
        "itinerary": itinerary,
        "active": bool(doc.get("active", True)),
        "seats": int(doc.get("seats") or 1),
        "created_at": _datetime(doc.get("created_at")),
        "updated_at": _datetime(doc.get("updated_at")),
        "version": int(doc.get("version") or 0),  # 0: the reconciler re-emits it at the row's version
    }


def legacy_set_aside(apps, schema_editor):
    db = schema_editor.connection.database
    if "trips" in db.list_collection_names():
        db["trips"].rename(LEGACY)


def legacy_copy_back(apps, schema_editor):
    db = schema_editor.connection.database
    if LEGACY not in db.list_collection_names():
        return
    batch = []
    for doc in db[LEGACY].find({}):
        batch.append(legacy_document(doc))
        if len(batch) == 1000:
            db["trips"].insert_many(batch, ordered=False)
            batch = []
    if batch:
        db["trips"].insert_many(batch, ordered=False)
    db[LEGACY].drop()


class Migration(migrations.Migration):
    dependencies = [
        ("bookings", "0004_booking_removed_travellers"),
    ]

    operations = [
        migrations.RunPython(legacy_set_aside, migrations.RunPython.noop, hints=HINTS),
        migrations.CreateModel(
            name="ItineraryDay",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("day", models.PositiveSmallIntegerField(help_text="Day number, from 1.")),
                ("title", models.CharField(help_text="What the day is, e.g. 'Arrive in Malé'.", max_length=120)),
                (
                    "details",
                    models.CharField(
                        blank=True, default="", help_text="More about the day (optional).", max_length=500
                    ),
                ),
            ],
            options={
                "abstract": False,
            },
        ),
        migrations.CreateModel(
            name="TripContent",
            fields=[
                (
                    "id",
                    models.CharField(
                        db_column="_id",
                        help_text="The document key: the trip code.",
                        max_length=20,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                ("code", models.CharField(help_text="The trip code (copy of Trip.code).", max_length=20, unique=True)),
                ("name", models.CharField(help_text="Display name of the trip.", max_length=200)),
                (
                    "resort",
                    models.CharField(
                        help_text="Resort or destination, as the catalogue filter shows it.", max_length=120
                    ),
                ),
                (
                    "length_days",
                    models.PositiveSmallIntegerField(help_text="Length in days (copy of Trip.length_days)."),
                ),
                (
                    "start",
                    models.DateField(help_text="Date of the departure (copy of Trip.start), stored as UTC midnight."),
                ),
                (
                    "price_minor",
                    models.BigIntegerField(
                        help_text="Price per person in integer minor units of `currency` (copy of Trip.price_minor)."
                    ),
                ),
                (
                    "currency",
                    models.CharField(help_text="ISO currency code of the price (copy of Trip.currency).", max_length=3),
                ),
                (
                    "price_range",
                    models.CharField(
                        choices=[("budget", "Budget"), ("mid-range", "Mid-range"), ("luxury", "Luxury")],
                        help_text="Budget band derived from the price.",
                        max_length=16,
                    ),
                ),
                (
                    "image",
                    models.CharField(blank=True, default="", help_text="Image path under MEDIA_ROOT.", max_length=200),
                ),
                (
                    "thumbnail",
                    models.CharField(
                        blank=True, default="", help_text="Thumbnail path under MEDIA_ROOT.", max_length=200
                    ),
                ),
                (
                    "description_md",
                    models.TextField(
                        blank=True, default="", help_text="Description in Markdown (sanitised on display)."
                    ),
                ),
                (
                    "keywords",
                    django_mongodb_backend.fields.ArrayField(
                        base_field=models.CharField(max_length=40),
                        blank=True,
                        default=list,
                        help_text="Search keywords, lower case.",
                    ),
                ),
                (
                    "itinerary",
                    django_mongodb_backend.fields.EmbeddedModelArrayField(
                        blank=True,
                        default=list,
                        embedded_model=bookings.models.ItineraryDay,
                        help_text="The days, in order.",
                    ),
                ),
                ("active", models.BooleanField(default=True, help_text="On sale (copy of Trip.active).")),
                ("seats", models.PositiveIntegerField(help_text="Seats per departure (copy of Trip.seats).")),
                (
                    "created_at",
                    models.DateTimeField(blank=True, help_text="When the trip was created (copy).", null=True),
                ),
                (
                    "updated_at",
                    models.DateTimeField(blank=True, help_text="When the trip last changed (copy).", null=True),
                ),
                ("version", models.BigIntegerField(help_text="The Trip row's version this document was written at.")),
            ],
            options={
                "verbose_name": "trip content",
                "verbose_name_plural": "trip contents",
                "db_table": "trips",
                "indexes": [models.Index(fields=["code"], name="trips_code")],
            },
        ),
        migrations.RunPython(legacy_copy_back, migrations.RunPython.noop, hints=HINTS),
    ]
