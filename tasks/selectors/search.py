"""Full-text search of tasks, with typo correction against the team vocabulary."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django.contrib.postgres.search import SearchHeadline, SearchQuery, SearchRank
from django.db import connection
from django.db.models import F

from taskforge.search import MARK_START, MARK_STOP, corrected_attempts, mark, search_words
from tasks.models import TASK_VOCABULARY, Task
from tasks.selectors.teams import teams_for_user


@dataclass
class TaskSearchResult:
    """Tasks found for a query, best first. `mode` is "search" (the words as typed),
    "typo" (after correcting the words against the team vocabulary) or "none"."""

    tasks: list[Task]
    mode: str
    words: list[str] = field(default_factory=list)  # the corrected words of a "typo" search
    relaxed: bool = False  # a "typo" search matching any of the words rather than all

    @property
    def corrected(self) -> str:
        return " ".join(self.words)


def _tasks_matching(team_ids: list[int], text: str, limit: int) -> list[Task]:
    """Ranked full-text matches with highlighted title and snippet."""
    query = SearchQuery(text, search_type="websearch", config="english")
    headline = {"config": "english", "start_sel": MARK_START, "stop_sel": MARK_STOP}
    results = list(
        Task.objects.filter(team_id__in=team_ids, search__deleted=False, search__document=query)
        .select_related("team", "assignee", "search")
        .annotate(
            rank=SearchRank(F("search__document"), query),
            title_hl=SearchHeadline("search__title", query, highlight_all=True, **headline),
            snippet=SearchHeadline("search__body", query, max_words=30, min_words=10, **headline),
        )
        .order_by(F("rank").desc(), F("created_at").desc())[:limit]
    )
    for task in results:
        # The projection may trail a rename by a moment: highlight only a current title.
        current = task.search.title == task.title
        task.title_html = mark(task.title_hl if current else task.title)
        task.snippet_html = mark(task.snippet)
    return results


def tasks_search(user: Any, q: str, *, team_id: int | None = None, limit: int = 50) -> TaskSearchResult:
    """Ranked full-text search (title, tags, description) of the person's teams' tasks. When
    the words as typed find nothing, each is corrected to its nearest word in the team
    vocabulary (taskforge.search, as the catalogue does) and the search runs again."""
    q = re.sub(r"\s+", " ", (q or "").strip())[:200]
    team_ids = [t.id for t in teams_for_user(user)] if q else []
    if team_id is not None:
        team_ids = [t for t in team_ids if t == team_id]
    if not team_ids:
        return TaskSearchResult([], "none")
    found = _tasks_matching(team_ids, q, limit)
    if found:
        return TaskSearchResult(found, "search")
    words = search_words(q)
    with connection.cursor() as cursor:
        corrections = TASK_VOCABULARY.corrections(cursor, words, scopes=team_ids)
    terms, attempts = corrected_attempts(words, corrections)
    for text, any_word in attempts:
        found = _tasks_matching(team_ids, text, limit)
        if found:
            return TaskSearchResult(found, "typo", terms, any_word)
    return TaskSearchResult([], "typo" if attempts else "none", terms if attempts else [])
