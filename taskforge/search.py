"""Typo-tolerant search, shared by the trip catalogue and task search.

Both search a PostgreSQL full-text projection first. When that finds nothing, each query
word is replaced by its nearest word in a *vocabulary* table (trigram distance, GiST KNN
on `word`), and the search runs again: all corrected words first, then any of them.
Matching a misspelt word against a vocabulary (a few thousand words) is bounded, where
matching it against every row's text is not.

A vocabulary is a table with a `word` column (varchar(60), GiST `gist_trgm_ops` index),
and optionally a scope column (e.g. `team_id`): a scoped vocabulary only ever corrects a
word to one from the scopes the reader may see, so a correction cannot reveal another
team's words. The outbox handler that keeps a projection adds the words of each row it
writes (`Vocabulary.add`); words are never removed (a stale word only finds nothing).

Highlighting: ts_headline marks matches with two private-use sentinels (`MARK_START`,
`MARK_STOP`); `mark()` escapes the text and only then turns them into <mark>.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

# Trigram similarity a misspelt word needs to its correction ("maldeves"/"maldives": 0.5,
# "bakup"/"backup": 0.44).
TYPO_THRESHOLD = 0.35
WORD_MIN, WORD_MAX = 3, 60
MAX_WORDS = 5
MARK_START, MARK_STOP = "\ue000", "\ue001"  # private-use sentinels, replaced after escaping
_IDENT = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


def search_words(q: str) -> list[str]:
    """The words of a query worth correcting (3+ characters, at most five)."""
    return [w for w in re.findall(r"[^\W_]+", q.lower()) if len(w) >= WORD_MIN][:MAX_WORDS]


def mark(text: str) -> SafeString:
    """Escape text from the database, then turn the headline sentinels into <mark>."""
    return mark_safe(escape(text or "").replace(MARK_START, "<mark>").replace(MARK_STOP, "</mark>"))  # noqa: S308


@dataclass(frozen=True)
class Vocabulary:
    """A table of search words, optionally partitioned by a scope column."""

    table: str
    scope_column: str | None = None

    def __post_init__(self) -> None:
        # Spliced into SQL: identifiers from code only, never from a request.
        for name in (self.table, self.scope_column):
            if name is not None and not _IDENT.match(name):
                raise ValueError(f"not an SQL identifier: {name!r}")

    def add(self, cursor: Any, text: str, *, scope: int | None = None) -> None:
        """Add the words of `text` (lower case, 3 to 60 letters or digits) to the vocabulary."""
        split = (
            "FROM regexp_split_to_table(lower(%(text)s), '[^[:alnum:]]+') AS w "
            f"WHERE length(w) BETWEEN {WORD_MIN} AND {WORD_MAX} ON CONFLICT DO NOTHING"
        )
        if self.scope_column is None:
            cursor.execute(f"INSERT INTO {self.table} (word) SELECT DISTINCT w {split}", {"text": text})
            return
        if scope is None:
            raise ValueError(f"{self.table} is scoped by {self.scope_column}: give a scope")
        cursor.execute(
            f"INSERT INTO {self.table} ({self.scope_column}, word) SELECT DISTINCT %(scope)s, w {split}",
            {"text": text, "scope": scope},
        )

    def corrections(
        self, cursor: Any, words: Sequence[str], *, scopes: Sequence[int] | None = None
    ) -> list[str | None]:
        """The nearest vocabulary word of each query word (itself when spelt right), or None
        when nothing is close enough (the word may still occur in longer texts)."""
        if not words:
            return []
        if self.scope_column is not None and scopes is None:
            raise ValueError(f"{self.table} is scoped by {self.scope_column}: give the scopes")
        where = f"WHERE v.{self.scope_column} = ANY(%(scopes)s)" if self.scope_column else ""
        cursor.execute(
            "SELECT best.word, similarity(best.word, w.q) FROM unnest(%(words)s::text[]) WITH ORDINALITY AS w(q, n) "
            f"LEFT JOIN LATERAL (SELECT v.word FROM {self.table} v {where} ORDER BY v.word <-> w.q LIMIT 1) best "
            "ON true ORDER BY w.n",
            {"words": list(words), "scopes": list(scopes or [])},
        )
        rows = cursor.fetchall()
        return [word if word is not None and similarity >= TYPO_THRESHOLD else None for word, similarity in rows]


def corrected_attempts(
    words: Sequence[str], corrections: Sequence[str | None]
) -> tuple[list[str], list[tuple[str, bool]]]:
    """(the corrected words, the queries to try in order as (websearch text, any-word?)):
    all corrected words together when a correction changed something, then any of them."""
    terms = [correction or word for word, correction in zip(words, corrections, strict=True)]
    attempts = ([(" ".join(terms), False)] if terms != list(words) else []) + (
        [(" or ".join(terms), True)] if len(terms) > 1 else []
    )
    return terms, attempts
