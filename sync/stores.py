"""Version-guarded writes of the outbox handlers: MongoDB documents (pymongo, batched) and
PostgreSQL projection rows. A write lands only when the stored version is older."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.db import connection, models
from pymongo import UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError

from taskforge.mongo import documents_db

logger = logging.getLogger(__name__)

# --- MongoDB and projection helpers ------------------------------------------------------


def _collection(collection: Any) -> Any:
    if isinstance(collection, str):
        return documents_db()[collection]
    return collection


def _versioned_update(version: int, fields: dict[str, Any], unset: Iterable[str]) -> dict[str, Any]:
    update: dict[str, Any] = {"$set": {**fields, "version": version}}
    cleared = {name: "" for name in unset if name not in fields and name != "version"}
    if cleared:
        update["$unset"] = cleared
    return update


def mongo_upsert_versioned(
    collection: Any, doc_id: Any, version: int, fields: dict[str, Any], *, unset: Iterable[str] = ()
) -> bool:
    """Upsert a document only if the stored version is older. Returns True when written.

    `collection` is a pymongo Collection or a collection name. An older or equal version
    (a replayed or out-of-order event) changes nothing: the filter does not match and the
    upsert's insert hits the existing _id (DuplicateKeyError). Two relays inserting the
    same new document at once can also collide that way, so a duplicate is retried once
    as a plain update, which writes exactly when the stored version is still older.
    """
    col = _collection(collection)
    selector = {"_id": doc_id, "version": {"$lt": version}}
    update = _versioned_update(version, fields, unset)
    try:
        col.update_one(selector, update, upsert=True)
    except DuplicateKeyError:
        return col.update_one(selector, update).matched_count == 1
    return True


def mongo_tombstone_versioned(collection: Any, doc_id: Any, version: int, *, unset: Iterable[str] = ()) -> bool:
    """Mark a document deleted at `version` (clearing `unset` fields). Readers skip `deleted` docs.

    nx-27017 stores a $set boolean on an existing document as 1, so test `deleted` for truth,
    never `== True`. (Don't use replace_one with upsert for this: nx-27017 ignores the _id
    of the filter on that path.)
    """
    return mongo_upsert_versioned(collection, doc_id, version, {"deleted": True}, unset=unset)


def mongo_upsert_versioned_many(collection: Any, items: Iterable[tuple[Any, int, dict[str, Any]]]) -> int:
    """`mongo_upsert_versioned` for many (doc_id, version, fields), in unordered bulk writes.

    First versions (version 1: creations, most of a catch-up after an outage) go out as one
    unordered insert_many, which is cheaper for the server than upserts (1.5x on nx-27017);
    those that already exist fail as duplicates and take the versioned upsert like the rest.
    Returns how many were written. Errors other than duplicates raise.
    """
    col = _collection(collection)
    items = list(items)
    firsts = [item for item in items if item[1] == 1]
    rest = [item for item in items if item[1] != 1]
    written = 0
    if firsts:
        try:
            written += len(
                col.insert_many(
                    [{**fields, "_id": doc_id, "version": 1} for doc_id, _, fields in firsts], ordered=False
                ).inserted_ids
            )
        except BulkWriteError as exc:
            details = exc.details or {}
            errors = details.get("writeErrors", [])
            if any(error.get("code") != 11000 for error in errors):
                raise
            written += int(details.get("nInserted", 0))
            rest += [firsts[error["index"]] for error in errors]
    if rest:
        written += _bulk_upsert_versioned(col, rest)
    return written


def _bulk_upsert_versioned(col: Any, items: list[tuple[Any, int, dict[str, Any]]]) -> int:
    ops = [
        UpdateOne({"_id": doc_id, "version": {"$lt": version}}, _versioned_update(version, fields, ()), upsert=True)
        for doc_id, version, fields in items
    ]
    try:
        result = col.bulk_write(ops, ordered=False)
    except BulkWriteError as exc:
        details = exc.details or {}
        errors = details.get("writeErrors", [])
        if any(error.get("code") != 11000 for error in errors):
            raise
        written = int(details.get("nUpserted", 0)) + int(details.get("nMatched", 0))
        # A duplicate is a stale version, or a racing insert: retry as a plain versioned update.
        retry = [
            UpdateOne(
                {"_id": items[e["index"]][0], "version": {"$lt": items[e["index"]][1]}},
                _versioned_update(items[e["index"]][1], items[e["index"]][2], ()),
            )
            for e in errors
        ]
        if retry:
            written += col.bulk_write(retry, ordered=False).matched_count
        return written
    return result.upserted_count + result.matched_count


def projection_upsert_versioned_many(
    model: type[models.Model], rows: Iterable[tuple[Any, int, dict[str, Any]]], *, version_field: str = "version"
) -> int:
    """Upsert projection rows (key, version, fields) where the stored version is older.

    INSERT ... ON CONFLICT (pk) DO UPDATE ... WHERE stored version < new version, in one
    statement per 500 rows. On insert, fields not given take their model default; on
    update, only the given fields change. Returns how many rows were written.
    """
    newest: dict[Any, tuple[int, dict[str, Any]]] = {}
    for key, version, fields in rows:
        if key not in newest or newest[key][0] < version:
            newest[key] = (version, fields)
    if not newest:
        return 0
    meta = model._meta
    pk = meta.pk
    vfield = meta.get_field(version_field)
    given = sorted({name for _, fields in newest.values() for name in fields})
    defaults = [
        f
        for f in meta.concrete_fields
        if f.name not in given and f is not pk and f is not vfield and f.has_default() and not f.has_db_default()
    ]
    columns = [pk, vfield, *(meta.get_field(name) for name in given), *defaults]
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    updates = ", ".join(f"{quote(c.column)} = EXCLUDED.{quote(c.column)}" for c in columns[1 : 2 + len(given)])
    written = 0
    items = list(newest.items())
    # No transaction of its own: each statement is atomic, and a partly applied batch is
    # simply applied again (every row only moves forward in version).
    with connection.cursor() as cursor:
        for start in range(0, len(items), 500):
            chunk = items[start : start + 500]
            params: list[Any] = []
            for key, (version, fields) in chunk:
                values = [key, version, *(fields.get(name) for name in given), *(f.get_default() for f in defaults)]
                params.extend(
                    column.get_db_prep_save(value, connection) for column, value in zip(columns, values, strict=True)
                )
            placeholder = "(" + ", ".join(["%s"] * len(columns)) + ")"
            cursor.execute(
                f"INSERT INTO {table} ({', '.join(quote(c.column) for c in columns)}) "
                f"VALUES {', '.join([placeholder] * len(chunk))} "
                f"ON CONFLICT ({quote(pk.column)}) DO UPDATE SET {updates} "
                f"WHERE {table}.{quote(vfield.column)} < EXCLUDED.{quote(vfield.column)}",
                params,
            )
            written += cursor.rowcount
    return written


def projection_upsert_versioned(
    model: type[models.Model], key: Any, version: int, fields: dict[str, Any], *, version_field: str = "version"
) -> bool:
    """One projection row (see projection_upsert_versioned_many). Returns True when written."""
    return projection_upsert_versioned_many(model, [(key, version, fields)], version_field=version_field) == 1
