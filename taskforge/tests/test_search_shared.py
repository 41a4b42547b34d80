"""One typo-correction mechanism (taskforge.search) for the catalogue and task search."""

from __future__ import annotations

import pytest
from django.db import connection

from bookings.models import TRIP_VOCABULARY
from taskforge.search import Vocabulary, corrected_attempts, mark, search_words
from tasks.models import TASK_VOCABULARY

pytestmark = pytest.mark.django_db


def test_both_apps_use_the_shared_vocabulary_mechanism() -> None:
    assert type(TRIP_VOCABULARY) is Vocabulary and TRIP_VOCABULARY.table == "bookings_search_word"
    assert type(TASK_VOCABULARY) is Vocabulary and TASK_VOCABULARY.table == "tasks_search_word"
    assert TRIP_VOCABULARY.scope_column is None and TASK_VOCABULARY.scope_column == "team_id"


def test_scoped_vocabulary_corrects_only_within_the_given_scopes() -> None:
    with connection.cursor() as cursor:
        TASK_VOCABULARY.add(cursor, "Rehearse the backup restore", scope=1)
        TASK_VOCABULARY.add(cursor, "Kubernetes upgrade", scope=2)
        assert TASK_VOCABULARY.corrections(cursor, ["bakup", "kubernets", "zzzzzz"], scopes=[1]) == [
            "backup",
            None,
            None,
        ]
        assert TASK_VOCABULARY.corrections(cursor, ["kubernets"], scopes=[1, 2]) == ["kubernetes"]
        assert TASK_VOCABULARY.corrections(cursor, ["bakup"], scopes=[]) == [None]  # nothing to offer
        with pytest.raises(ValueError, match="scoped by team_id"):
            TASK_VOCABULARY.corrections(cursor, ["bakup"])
        with pytest.raises(ValueError, match="scoped by team_id"):
            TASK_VOCABULARY.add(cursor, "words")


def test_unscoped_vocabulary_with_no_words_corrects_nothing() -> None:
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM bookings_search_word")
        assert TRIP_VOCABULARY.corrections(cursor, ["maldeves", "reef"]) == [None, None]


def test_helpers() -> None:
    assert search_words("Bakup, of the CERTFICATE x_y!") == ["bakup", "the", "certficate"]
    assert corrected_attempts(["bakup", "restor"], ["backup", "restore"]) == (
        ["backup", "restore"],
        [("backup restore", False), ("backup or restore", True)],
    )
    assert corrected_attempts(["backup"], ["backup"]) == (["backup"], [])
    assert mark("<b>\ue000x\ue001</b>") == "&lt;b&gt;<mark>x</mark>&lt;/b&gt;"
    with pytest.raises(ValueError, match="identifier"):
        Vocabulary("words; DROP TABLE x")


def test_catalogue_typo_search_on_an_empty_vocabulary_is_a_clean_empty_page(client) -> None:
    """The correction query used to drop words without a neighbour (a 500 on an empty vocabulary)."""
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM bookings_search_word")
    response = client.get("/trips/", {"q": "maldeves"})
    assert response.status_code == 200
