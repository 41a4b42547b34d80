"""The document store: MongoDB behind the `mongodb` database alias (django-mongodb-backend).

Content models are ordinary Django models routed there by taskforge/routers.py; their
reads and writes go through the ORM. `documents_collection()` hands out the backend's own
pymongo collection for the few places that need a plain filter document: the relay's
batched version-guarded upserts, and hot queries with several conditions (see README,
"Document store").

While the server is down, ORM and pymongo calls raise; `document_store()` turns that into
`DocumentStoreUnavailable` (a 503 with Retry-After), so callers degrade or refuse politely.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import DatabaseError, connections
from pymongo.errors import PyMongoError

from taskforge.errors import Unavailable
from taskforge.routers import DOCUMENTS

RETRY_AFTER_SECONDS = 30


class DocumentStoreUnavailable(Unavailable):
    """The document store did not answer: nothing was changed there; try again shortly."""

    def __init__(self, message: str = "Content is unavailable for a moment. Please try again shortly.") -> None:
        super().__init__(message, retry_after=RETRY_AFTER_SECONDS)


def is_document_store_failure(exc: BaseException) -> bool:
    """A pymongo error, raised directly or wrapped by the ORM as a DatabaseError."""
    if isinstance(exc, PyMongoError):
        return True
    return isinstance(exc, DatabaseError) and isinstance(exc.__cause__, PyMongoError)


@contextmanager
def document_store() -> Iterator[None]:
    """Run a block against the document store; its failures become DocumentStoreUnavailable."""
    try:
        yield
    except DocumentStoreUnavailable:
        raise
    except (PyMongoError, DatabaseError) as exc:
        if is_document_store_failure(exc):
            raise DocumentStoreUnavailable() from exc
        raise


def documents_db() -> Any:
    """The pymongo Database of the `mongodb` alias."""
    return connections[DOCUMENTS].database


def documents_collection(model: Any) -> Any:
    """The backend's pymongo collection of a content model (plain filter documents only)."""
    return connections[DOCUMENTS].get_collection(model._meta.db_table)


def mongo_ping() -> None:
    documents_db().command("ping")
