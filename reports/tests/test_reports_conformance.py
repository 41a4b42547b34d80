"""The document-store query shapes the System page uses, on nx-27017 and mongomock alike."""

from __future__ import annotations

import pytest

from taskforge.mongo import mongo_db
from taskforge.testing.conformance import Shape, conformance_compare

DOCS = [{"_id": "a", "kind": "x"}, {"_id": "b", "kind": "y"}, {"_id": "c", "kind": "x"}]

SHAPES = [
    # reports/system.py: documents per collection.
    Shape("count_documents of a whole collection", lambda c: c.count_documents({}), DOCS),
    Shape("count_documents of an empty collection", lambda c: c.count_documents({})),
    # ... and the collection must be listed once it holds documents.
    Shape("collection is listed", lambda c: c.name in c.database.list_collection_names(), DOCS),
]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_system_page_shapes_behave_the_same_on_both_engines(shape: Shape) -> None:
    nx_result, mock_result = conformance_compare(shape, mongo_db())
    assert nx_result[0] == "ok", nx_result
    assert nx_result == mock_result
