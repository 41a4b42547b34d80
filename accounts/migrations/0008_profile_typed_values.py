"""Profile documents written before they were a Django model kept nx-27017's workarounds:
`updated_at` as an ISO 8601 string, no `deleted` field on live documents, and booleans that
may have come back as 0/1. Store real values. (Plain pymongo: the ORM cannot select by BSON
type. The router sends this to the `mongodb` alias by the model_name hint.)"""

from __future__ import annotations

from django.db import migrations
from django.utils.dateparse import parse_datetime

COLLECTION = "profiles"


def typed_values(apps, schema_editor) -> None:
    collection = schema_editor.connection.get_collection(COLLECTION)
    for doc in collection.find({"updated_at": {"$type": "string"}}, {"updated_at": 1}):
        when = parse_datetime(doc["updated_at"]) if doc["updated_at"] else None
        collection.update_one({"_id": doc["_id"]}, {"$set": {"updated_at": when}})
    collection.update_many({"deleted": {"$exists": False}}, {"$set": {"deleted": False}})
    collection.update_many({"deleted": {"$in": [1, "1", "true"]}}, {"$set": {"deleted": True}})
    for channel in ("email", "in_app"):
        path = f"preferences.channels.{channel}"
        for number, flag in ((1, True), (0, False)):
            # Equality is typed in MongoDB: 1 matches the number only, never true.
            collection.update_many({path: number}, {"$set": {path: flag}})


class Migration(migrations.Migration):
    dependencies = [("accounts", "0007_profile_content")]

    operations = [migrations.RunPython(typed_values, migrations.RunPython.noop, hints={"model_name": "profile"})]
