"""Run one MongoDB query shape against nx-27017 and mongomock and compare the results.

A shape seeds a fresh collection, runs one operation through the pymongo API and
returns something comparable. Apps list the shapes they use in
`<app>/tests/test_conformance_<app>.py`; a shape that only one engine accepts, or that
the engines answer differently, fails there.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import mongomock
from bson import ObjectId


@dataclass(frozen=True)
class Shape:
    name: str
    run: Callable[[Any], Any]
    seed: list[dict[str, Any]] = field(default_factory=list)

    def __str__(self) -> str:  # readable pytest ids
        return self.name


def _normalise(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in sorted(value.items()) if not isinstance(v, ObjectId)}
    if isinstance(value, list | tuple):
        return [_normalise(v) for v in value]
    if isinstance(value, dt.datetime):
        # millisecond precision, UTC, naive vs aware ignored
        value = value.replace(tzinfo=None)
        return value.replace(microsecond=(value.microsecond // 1000) * 1000).isoformat()
    return value


def _execute(collection: Any, shape: Shape) -> Any:
    if shape.seed:
        collection.insert_many([dict(doc) for doc in shape.seed])
    try:
        return ("ok", _normalise(shape.run(collection)))
    except Exception as exc:  # noqa: BLE001 - the error class is part of the comparison
        return ("error", type(exc).__name__)


def conformance_compare(shape: Shape, nx_database: Any) -> tuple[Any, Any]:
    """(nx-27017 result, mongomock result) for a shape, each on a fresh collection."""
    name = f"conf_{uuid.uuid4().hex[:10]}"
    real = nx_database[name]
    try:
        nx_result = _execute(real, shape)
    finally:
        real.drop()
    mock = mongomock.MongoClient(tz_aware=True)["conformance"][name]
    return nx_result, _execute(mock, shape)
