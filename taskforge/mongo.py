"""MongoDB connection registration for MongoEngine content documents.

Documents set `meta = {"db_alias": CONTENT_ALIAS, ...}`. Connections are lazy
(connect=False) with short timeouts, so a stopped document server makes requests
fail fast instead of hanging, and PostgreSQL writes still commit.
"""

from __future__ import annotations

from typing import Any

import mongoengine
from django.conf import settings
from pymongo.errors import PyMongoError

CONTENT_ALIAS = "content"


def mongo_connect() -> None:
    """Register the content connection from MONGODB_URI (idempotent)."""
    mongoengine.disconnect(alias=CONTENT_ALIAS)
    mongoengine.connect(
        alias=CONTENT_ALIAS,
        host=settings.MONGODB_URI,
        connect=False,
        uuidRepresentation="standard",
        tz_aware=True,
        serverSelectionTimeoutMS=settings.MONGODB_TIMEOUT_MS,
        connectTimeoutMS=settings.MONGODB_TIMEOUT_MS,
        socketTimeoutMS=max(settings.MONGODB_TIMEOUT_MS * 4, 5000),
        retryWrites=False,
    )


def mongo_db() -> Any:
    """The pymongo Database behind the content alias."""
    return mongoengine.get_db(CONTENT_ALIAS)


def mongo_ping() -> None:
    mongo_db().command("ping")


# Errors that mean "the document server is unavailable right now": callers degrade.
MongoUnavailable = PyMongoError
