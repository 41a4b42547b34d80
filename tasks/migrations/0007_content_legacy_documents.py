"""Convert documents written before the content models (MongoEngine era, shaped for nx-27017).

* times stored as ISO text become datetimes (task_details.updated_at, task_comments.edited_at,
  notifications.read_at, attachments[].uploaded_at);
* notifications.state "unread"/"read" becomes the boolean `read`;
* comments with a hex-UUID `_id` get an ObjectId; the old id is kept in `legacy_id`, so old
  links (#c-<id>, the edit and delete URLs) still find them;
* the single-field indexes MongoEngine made are dropped (the compound ones replace them).

Runs only on the `mongodb` alias (hints name a content model). Idempotent: it only touches
documents still in the old shape. Not reversible (the old shape was a workaround).
"""

import datetime as dt

from bson import ObjectId
from django.db import migrations

OLD_INDEXES = {
    "task_comments": ["task_id_1"],
    "notifications": ["user_id_1", "user_id_1_created_at_-1"],
}


def _when(value):
    if isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            return None
        return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    return value


def _attachments(items):
    return [{**a, "uploaded_at": _when(a.get("uploaded_at"))} for a in items or []]


def _old_attachment_times(collection):
    return collection.find({"attachments.uploaded_at": {"$type": "string"}}, {"attachments": 1})


def convert_details(apps, schema_editor):
    details = schema_editor.connection.get_collection("task_details")
    for doc in details.find({"updated_at": {"$type": "string"}}, {"updated_at": 1}):
        details.update_one({"_id": doc["_id"]}, {"$set": {"updated_at": _when(doc["updated_at"])}})
    for doc in _old_attachment_times(details):
        details.update_one({"_id": doc["_id"]}, {"$set": {"attachments": _attachments(doc["attachments"])}})


def convert_comments(apps, schema_editor):
    comments = schema_editor.connection.get_collection("task_comments")
    for doc in comments.find({"_id": {"$type": "string"}}):
        new = {
            **doc,
            "_id": ObjectId(),
            "legacy_id": doc["_id"],
            "edited_at": _when(doc.get("edited_at")),
            "attachments": _attachments(doc.get("attachments")),
            "hidden": bool(doc.get("hidden", False)),
        }
        comments.insert_one(new)
        comments.delete_one({"_id": doc["_id"]})
    for doc in comments.find({"edited_at": {"$type": "string"}}, {"edited_at": 1}):
        comments.update_one({"_id": doc["_id"]}, {"$set": {"edited_at": _when(doc["edited_at"])}})
    for doc in _old_attachment_times(comments):
        comments.update_one({"_id": doc["_id"]}, {"$set": {"attachments": _attachments(doc["attachments"])}})
    comments.update_many({"hidden": {"$exists": False}}, {"$set": {"hidden": False}})


def convert_notifications(apps, schema_editor):
    notifications = schema_editor.connection.get_collection("notifications")
    notifications.update_many({"state": "read"}, {"$set": {"read": True}, "$unset": {"state": ""}})
    notifications.update_many({"state": {"$exists": True}}, {"$set": {"read": False}, "$unset": {"state": ""}})
    for doc in notifications.find({"read_at": {"$type": "string"}}, {"read_at": 1}):
        notifications.update_one({"_id": doc["_id"]}, {"$set": {"read_at": _when(doc["read_at"])}})


def drop_old_indexes(apps, schema_editor):
    for name, indexes in OLD_INDEXES.items():
        collection = schema_editor.connection.get_collection(name)
        present = set(collection.index_information())
        for index in indexes:
            if index in present:
                collection.drop_index(index)


class Migration(migrations.Migration):
    dependencies = [("tasks", "0006_content_models")]

    operations = [
        migrations.RunPython(convert_details, migrations.RunPython.noop, hints={"model_name": "taskdetail"}),
        migrations.RunPython(convert_comments, migrations.RunPython.noop, hints={"model_name": "taskcomment"}),
        migrations.RunPython(convert_notifications, migrations.RunPython.noop, hints={"model_name": "notification"}),
        migrations.RunPython(drop_old_indexes, migrations.RunPython.noop, hints={"model_name": "notification"}),
    ]
