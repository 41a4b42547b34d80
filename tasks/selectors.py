"""Reads of the tasks app: permission-scoped, a constant number of queries per page.

Every task read goes through PostgreSQL row-level security (tasks_task: rows of the teams
the context user belongs to) and the app-level check (permission_has ... "task.view").
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any

from django.contrib.postgres.search import SearchHeadline, SearchQuery, SearchRank
from django.core.cache import cache
from django.core.exceptions import FieldDoesNotExist
from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models import Case, Count, DateTimeField, F, IntegerField, QuerySet, Value, When, Window
from django.db.models.functions import RowNumber, TruncWeek
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.text import capfirst

from accounts.models import Membership, Team
from accounts.permissions import permission_has
from taskforge.mongo import MongoUnavailable
from taskforge.search import MARK_START, MARK_STOP, corrected_attempts, mark, search_words
from tasks import documents
from tasks.caching import (
    DASHBOARD_TTL,
    TASK_PAGE_TTL,
    dashboard_team_key,
    dashboard_user_key,
    task_page_key,
    unread_cached,
    unread_set,
)
from tasks.models import PRIORITY_RANK, TASK_VOCABULARY, Task, TaskPriority, TaskStatus, TeamCustomField
from tasks.rendering import markdown_render, member_handle
from tasks.services import task_id_parse

logger = logging.getLogger(__name__)

BOARD_COLUMN_LIMIT = 25
LIST_PAGE_SIZE = 25
STATUS_ORDER = {s: i for i, s in enumerate(TaskStatus.values)}

PRIORITY_RANK_EXPR = Case(
    *[When(priority=p, then=Value(rank)) for p, rank in PRIORITY_RANK.items()],
    default=Value(0),
    output_field=IntegerField(),
)
STATUS_RANK_EXPR = Case(
    *[When(status=s, then=Value(rank)) for s, rank in STATUS_ORDER.items()],
    default=Value(0),
    output_field=IntegerField(),
)
# Board and list default order: most urgent first, then the nearest due date, then newest.
DEFAULT_ORDER = [F("prank").desc(), F("due_at").asc(nulls_last=True), F("created_at").desc()]


# --- teams and tasks ------------------------------------------------------------------------------


def teams_for_user(user: Any, permission: str = "task.view") -> list[Team]:
    """Teams in which the user holds a permission (one query; roles memoised for permission_has)."""
    if not getattr(user, "is_authenticated", False):
        return []
    rows = list(Membership.objects.filter(user_id=user.pk).select_related("team").order_by("team__name"))
    memo = user.__dict__.setdefault("_team_roles", {})
    for m in rows:
        memo[m.team_id] = m.role
    return [m.team for m in rows if permission_has(user, m.team_id, permission)]


def team_for_user(user: Any, team_id: int, permission: str = "task.view") -> Team | None:
    """The team if the user may see it (outsiders get None -> 404)."""
    if not permission_has(user, team_id, "task.view") or not permission_has(user, team_id, permission):
        return None
    return Team.objects.filter(id=team_id).first()


def task_for_user(user: Any, task_id: Any) -> Task | None:
    """The task with its team, assignee and creator, if the user may see it."""
    parsed = task_id_parse(task_id)
    if parsed is None:
        return None
    task = Task.objects.select_related("team", "assignee", "creator").filter(id=parsed).first()
    if task is None or not permission_has(user, task.team_id, "task.view"):
        return None
    return task


def team_members_cached(team_id: int) -> list[dict[str, Any]]:
    """Members for filter menus (cached a minute; writes validate against the live list)."""
    key = f"tasks:members:{team_id}"
    members = cache.get(key)
    if members is None:
        from tasks.services import team_members

        members = team_members(team_id)
        cache.set(key, members, 60)
    return members


def custom_fields_for(team_id: int) -> list[TeamCustomField]:
    return list(TeamCustomField.objects.filter(team_id=team_id))


# --- board ----------------------------------------------------------------------------------------


@dataclass
class Column:
    status: str
    label: str
    count: int
    cards: list[Task] = field(default_factory=list)

    @property
    def hidden(self) -> int:
        return max(self.count - len(self.cards), 0)


def board_columns(team_id: int, *, statuses: list[str] | None = None, limit: int = BOARD_COLUMN_LIMIT) -> list[Column]:
    """Columns by status with their full counts and at most `limit` cards each (two queries)."""
    wanted = statuses or list(TaskStatus.values)
    counts = dict(
        Task.objects.filter(team_id=team_id, status__in=wanted)
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    cards = (
        Task.objects.filter(team_id=team_id, status__in=wanted)
        .select_related("assignee")
        .annotate(
            prank=PRIORITY_RANK_EXPR,
            row=Window(RowNumber(), partition_by=[F("status")], order_by=DEFAULT_ORDER),
        )
        .filter(row__lte=limit)
        .order_by("status", "row")
    )
    by_status: dict[str, list[Task]] = {s: [] for s in wanted}
    for task in cards:
        by_status[task.status].append(task)
    labels = dict(TaskStatus.choices)
    return [Column(status=s, label=str(labels[s]), count=counts.get(s, 0), cards=by_status[s]) for s in wanted]


# --- list, my tasks -------------------------------------------------------------------------------

SORTS: dict[str, list[Any]] = {
    "priority": [F("prank").desc(), F("due_at").asc(nulls_last=True), F("created_at").desc()],
    "-priority": [F("prank").asc(), F("due_at").asc(nulls_last=True), F("created_at").desc()],
    "due": [F("due_at").asc(nulls_last=True), F("created_at").desc()],
    "-due": [F("due_at").desc(nulls_last=True), F("created_at").desc()],
    "created": [F("created_at").asc()],
    "-created": [F("created_at").desc()],
    "updated": [F("updated_at").asc()],
    "-updated": [F("updated_at").desc()],
    "title": [F("title").asc(), F("created_at").desc()],
    "status": [F("srank").asc(), F("prank").desc(), F("created_at").desc()],
}
SORT_LABELS = {
    "priority": "Priority (urgent first)",
    "-priority": "Priority (low first)",
    "due": "Due date (soonest)",
    "-due": "Due date (latest)",
    "-created": "Newest",
    "created": "Oldest",
    "-updated": "Recently updated",
    "updated": "Least recently updated",
    "title": "Title",
    "status": "Status",
}


def tasks_filtered(
    base: QuerySet[Task], filters: dict[str, Any], *, user: Any, now: dt.datetime | None = None
) -> QuerySet[Task]:
    """Apply the list filters (already validated by forms.TaskFilterForm)."""
    now = now or timezone.now()
    qs = base
    if filters.get("status"):
        qs = qs.filter(status__in=filters["status"])
    if filters.get("priority"):
        qs = qs.filter(priority__in=filters["priority"])
    assignee = filters.get("assignee") or ""
    if assignee == "me":
        qs = qs.filter(assignee_id=user.pk)
    elif assignee == "none":
        qs = qs.filter(assignee__isnull=True)
    elif assignee:
        qs = qs.filter(assignee_id=int(assignee))
    if filters.get("tag"):
        qs = qs.filter(search__tags__contains=[filters["tag"]])
    if filters.get("due_from"):
        qs = qs.filter(due_at__gte=dt.datetime.combine(filters["due_from"], dt.time.min, tzinfo=dt.UTC))
    if filters.get("due_to"):
        qs = qs.filter(
            due_at__lt=dt.datetime.combine(filters["due_to"], dt.time.min, tzinfo=dt.UTC) + dt.timedelta(days=1)
        )
    if filters.get("overdue"):
        qs = qs.filter(due_at__lt=now).exclude(status=TaskStatus.DONE)
    return qs


def task_page(qs: QuerySet[Task], *, sort: str, page: Any, per_page: int = LIST_PAGE_SIZE) -> Page:
    """One page of tasks (a count query and a page query, whatever the number of tasks)."""
    ordered = (
        qs.select_related("assignee", "search")
        .annotate(prank=PRIORITY_RANK_EXPR, srank=STATUS_RANK_EXPR)
        .order_by(*SORTS.get(sort, SORTS["priority"]), "id")
    )
    return Paginator(ordered, per_page).get_page(page)


def team_tasks(team_id: int) -> QuerySet[Task]:
    return Task.objects.filter(team_id=team_id)


def my_tasks(user: Any, *, include_done: bool = False, teams: list[Team] | None = None) -> QuerySet[Task]:
    """Tasks assigned to the user, in teams where they may still see tasks."""
    team_ids = [t.id for t in (teams if teams is not None else teams_for_user(user))]
    qs = Task.objects.filter(assignee_id=user.pk, team_id__in=team_ids).select_related("team")
    if not include_done:
        qs = qs.exclude(status=TaskStatus.DONE)
    return qs


# --- task page ------------------------------------------------------------------------------------


def _doc_time(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            return None
    return value


def task_detail_state(task: Task) -> dict[str, Any]:
    """The detail document as the page shows it, and whether it is still on its way.

    `pending` is True while the document is older than the row's detail_version (the
    document server was down or the relay is behind) or cannot be read: the page then says
    "details pending" (and is not cached).
    """
    try:
        doc = documents.details().find_one({"_id": str(task.id)})
    except MongoUnavailable:
        return {"available": False, "pending": True, "doc": None}
    if doc is None or doc.get("deleted"):
        return {"available": True, "pending": True, "doc": None}
    for attachment in doc.get("attachments") or []:
        attachment["uploaded_at"] = _doc_time(attachment.get("uploaded_at"))
    return {"available": True, "pending": int(doc.get("version") or 0) < task.detail_version, "doc": doc}


def task_comments(task_id: Any, *, limit: int = 500) -> list[dict[str, Any]] | None:
    """Comments oldest first, or None when the document server is unavailable."""
    try:
        rows = list(documents.comments().find({"task_id": str(task_id)}).sort("created_at", 1).limit(limit))
    except MongoUnavailable:
        return None
    for row in rows:
        row["edited_at"] = _doc_time(row.get("edited_at"))
        for attachment in row.get("attachments") or []:
            attachment["uploaded_at"] = _doc_time(attachment.get("uploaded_at"))
    return rows


HISTORY_IGNORED = {"updated_at", "version", "detail_version", "id", "done_at", "created_at"}
HISTORY_USER_FIELDS = {"assignee_id", "creator_id"}
# Labels that read better than the model's verbose names; the rest come from the model.
HISTORY_LABELS = {"due_at": "Due", "team_id": "Team", "custom_fields": "Custom fields"}


def history_label(field_name: str) -> str:
    """The human label of a task (or task detail) field, e.g. "status" -> "Status"."""
    if field_name in HISTORY_LABELS:
        return HISTORY_LABELS[field_name]
    try:
        verbose = str(Task._meta.get_field(field_name.removesuffix("_id")).verbose_name)
    except FieldDoesNotExist:  # a detail-document field (description, tags, ...)
        verbose = field_name.replace("_", " ")
    return capfirst(verbose)


def history_value(field_name: str, value: Any) -> Any:
    """A recorded value as people read it: a coded field shows its label ("todo" -> "To do"),
    a time is shown in the site's zone; anything else as it is."""
    if value is None or value == "":
        return None
    try:
        model_field = Task._meta.get_field(field_name)
    except FieldDoesNotExist:
        return value
    if model_field.choices:
        return str(dict(model_field.flatchoices).get(value, value))
    if isinstance(model_field, DateTimeField) and isinstance(value, str):
        moment = _doc_time(value)
        if moment is None:
            return value
        if timezone.is_naive(moment):  # the audit log writes timestamptz with an offset; be safe
            moment = moment.replace(tzinfo=dt.UTC)
        return date_format(timezone.localtime(moment), "j M Y H:i")
    return value


def task_history(task_id: Any, *, limit: int = 100) -> list[dict[str, Any]]:
    """The task's audit trail, through tasks_task_history() (checks membership in SQL)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, table_name, operation, old_values, new_values, user_id, actor_role, created_at "
            "FROM tasks_task_history(%s, %s)",
            [str(task_id), limit],
        )
        cols = [c[0] for c in cursor.description]
        rows = [dict(zip(cols, r, strict=True)) for r in cursor.fetchall()]
    entries = []
    for row in rows:
        # Django leaves jsonb from raw SQL as text; the JSON decoding is the field's job.
        for key in ("old_values", "new_values"):
            if isinstance(row[key], str):
                row[key] = json.loads(row[key])
        old, new = row["old_values"] or {}, row["new_values"] or {}
        if row["table_name"] == "tasks_task":
            subject = "task"
        elif row["table_name"] == "task_detail":
            subject = "details"
        else:
            subject = "comment"
        keys = sorted((set(old) | set(new)) - HISTORY_IGNORED)
        changes = [
            {"field": k, "old": old.get(k), "new": new.get(k)}
            for k in keys
            if row["operation"] == "UPDATE" and old.get(k) != new.get(k)
        ]
        entries.append({**row, "subject": subject, "changes": changes})
    return entries


def users_by_id(ids: set[int]) -> dict[int, Any]:
    from accounts.models import User

    ids = {i for i in ids if i}
    if not ids:
        return {}
    return {u.pk: u for u in User.objects.filter(id__in=ids).only("id", "email", "display_name")}


def task_page_bundle(task: Task) -> dict[str, Any]:
    """Detail, rendered description, comments and history of a task: cache-aside in Redis
    for 5 minutes, invalidated after every write (tasks.caching.caches_invalidate). A page
    whose details are still pending is not cached, so it fills in once the relay catches up."""
    key = task_page_key(task.id)
    bundle = cache.get(key)
    if bundle is not None and bundle.get("version") == task.version:
        bundle["cached"] = True
        return bundle
    state = task_detail_state(task)
    comments = task_comments(task.id)
    history = task_history(task.id)
    member_handles = [
        member_handle(e) for e in Membership.objects.filter(team_id=task.team_id).values_list("user__email", flat=True)
    ]
    user_ids: set[int] = {h["user_id"] for h in history if h.get("user_id")}
    for h in history:
        for change in h["changes"]:
            if change["field"] in HISTORY_USER_FIELDS:
                user_ids.update(v for v in (change["old"], change["new"]) if isinstance(v, int))
    if comments:
        for c in comments:
            user_ids.add(c.get("author_id"))
            c["html"] = markdown_render(c.get("body", ""), mentions=member_handles)
    users = {u.pk: {"name": str(u), "email": u.email} for u in users_by_id(user_ids).values()}
    for c in comments or []:
        c["cid"] = c["_id"]
        c["author_name"] = users.get(c.get("author_id"), {}).get("name", "a former member")
    for h in history:
        h["actor_name"] = users.get(h.get("user_id"), {}).get("name", "the system")
        for change in h["changes"]:
            change["label"] = history_label(change["field"])
            if change["field"] in HISTORY_USER_FIELDS:
                for side in ("old", "new"):
                    if change[side] is not None:
                        change[side] = users.get(change[side], {}).get("name", f"user {change[side]}")
            elif h["subject"] == "task":
                change["old"] = history_value(change["field"], change["old"])
                change["new"] = history_value(change["field"], change["new"])
    doc = state["doc"]
    bundle = {
        "version": task.version,
        "detail": doc,
        "detail_available": state["available"],
        "detail_pending": state["pending"],
        "description_html": markdown_render(doc.get("description", "")) if doc else "",
        "comments": comments,
        "history": history,
        "users": users,
        "cached": False,
    }
    if not state["pending"] and comments is not None:
        cache.set(key, bundle, TASK_PAGE_TTL)
    return bundle


# --- search ---------------------------------------------------------------------------------------


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


# --- notifications --------------------------------------------------------------------------------


# The badge counts at most this many (a lower bound beyond it; Redis counts on from there).
UNREAD_COUNT_CAP = 10_000


def unread_count(user_id: int) -> int | None:
    """Unread notifications: Redis first, recomputed from MongoDB on a miss (None if both fail)."""
    cached = unread_cached(user_id)
    if cached is not None:
        return max(cached, 0)
    try:
        # Counted from the ids, not count_documents: nx-27017 runs a count as a scan of the
        # whole collection (2 s at 100,000 notifications); a find uses the user_id index.
        unread = documents.notifications().find({"user_id": user_id, "state": "unread"}, {"_id": 1})
        count = len(list(unread.limit(UNREAD_COUNT_CAP)))
    except MongoUnavailable:
        return None
    unread_set(user_id, count)
    return count


def notifications_for(user_id: int, *, limit: int = 50) -> list[dict[str, Any]] | None:
    try:
        rows = list(documents.notifications().find({"user_id": user_id}).sort("created_at", -1).limit(limit))
    except MongoUnavailable:
        return None
    for row in rows:
        row["nid"] = row["_id"]
    return rows


# --- dashboard ------------------------------------------------------------------------------------

WEEKS = 12


def _week_starts(now: dt.datetime) -> list[dt.date]:
    monday = (now - dt.timedelta(days=now.weekday())).date()
    return [monday - dt.timedelta(weeks=i) for i in range(WEEKS - 1, -1, -1)]


def _dashboard_numbers(qs: QuerySet[Task], *, now: dt.datetime, by: str) -> dict[str, Any]:
    weeks = _week_starts(now)
    start = dt.datetime.combine(weeks[0], dt.time.min, tzinfo=dt.UTC)
    status_counts = dict(qs.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
    open_qs = qs.exclude(status=TaskStatus.DONE)
    priority_counts = dict(open_qs.values_list("priority").annotate(n=Count("id")).values_list("priority", "n"))
    overdue = open_qs.filter(due_at__lt=now).count()
    created = dict(
        qs.filter(created_at__gte=start)
        .annotate(week=TruncWeek("created_at"))
        .values_list("week")
        .annotate(n=Count("id"))
        .values_list("week", "n")
    )
    done = dict(
        qs.filter(done_at__gte=start)
        .annotate(week=TruncWeek("done_at"))
        .values_list("week")
        .annotate(n=Count("id"))
        .values_list("week", "n")
    )
    created = {k.date(): v for k, v in created.items()}
    done = {k.date(): v for k, v in done.items()}
    if by == "assignee":
        rows = open_qs.values_list("assignee_id", "assignee__display_name", "assignee__email").annotate(n=Count("id"))
        groups = sorted(((name or email or "Unassigned", n) for _, name, email, n in rows), key=lambda x: (-x[1], x[0]))
    else:
        rows = open_qs.values_list("team__name").annotate(n=Count("id"))
        groups = sorted(((name, n) for name, n in rows), key=lambda x: (-x[1], x[0]))
    statuses = dict(TaskStatus.choices)
    priorities = dict(TaskPriority.choices)
    return {
        "by_status": [(str(statuses[s]), status_counts.get(s, 0)) for s in TaskStatus.values],
        "by_priority": [(str(priorities[p]), priority_counts.get(p, 0)) for p in reversed(TaskPriority.values)],
        "overdue": overdue,
        "total": sum(status_counts.values()),
        "open": sum(v for k, v in status_counts.items() if k != TaskStatus.DONE),
        "weekly": [(w, created.get(w, 0), done.get(w, 0)) for w in weeks],
        "groups": groups,
        "group_label": "Open tasks by assignee" if by == "assignee" else "Open tasks by team",
        "computed_at": now,
    }


def dashboard_team(team_id: int) -> dict[str, Any]:
    key = dashboard_team_key(team_id)
    numbers = cache.get(key)
    if numbers is None:
        numbers = _dashboard_numbers(Task.objects.filter(team_id=team_id), now=timezone.now(), by="assignee")
        cache.set(key, numbers, DASHBOARD_TTL)
    return numbers


def dashboard_user(user: Any) -> dict[str, Any]:
    key = dashboard_user_key(user.pk)
    numbers = cache.get(key)
    if numbers is None:
        team_ids = [t.id for t in teams_for_user(user)]
        qs = Task.objects.filter(assignee_id=user.pk, team_id__in=team_ids)
        numbers = _dashboard_numbers(qs, now=timezone.now(), by="team")
        cache.set(key, numbers, DASHBOARD_TTL)
    return numbers
