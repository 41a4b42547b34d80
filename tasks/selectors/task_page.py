"""What the task page shows: the detail document, comments and history (cached in Redis)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.core.exceptions import FieldDoesNotExist
from django.db import connection
from django.db.models import DateTimeField
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.text import capfirst

from accounts.models import Membership, User
from taskforge.mongo import DocumentStoreUnavailable, document_store
from tasks.caching import TASK_PAGE_TTL, task_page_key
from tasks.models import Task, TaskDetail
from tasks.rendering import markdown_render, member_handle
from tasks.selectors.tasks import comment_as_dict, detail_as_dict, task_comments_query


def doc_time(value: Any) -> Any:
    """An ISO time recorded as text (the audit log's JSON values) as a datetime, or None."""
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
        with document_store():
            detail = TaskDetail.objects.filter(pk=str(task.id)).first()
    except DocumentStoreUnavailable:
        return {"available": False, "pending": True, "doc": None}
    if detail is None or detail.deleted:
        return {"available": True, "pending": True, "doc": None}
    return {"available": True, "pending": detail.version < task.detail_version, "doc": detail_as_dict(detail)}


def task_comments(task_id: Any, *, limit: int = 500) -> list[dict[str, Any]] | None:
    """Comments oldest first, or None when the document server is unavailable.

    One condition (the task) and a sort: the (task_id, -created_at) index serves it."""
    try:
        with document_store():
            rows = list(task_comments_query(task_id).order_by("created_at")[:limit])
    except DocumentStoreUnavailable:
        return None
    return [comment_as_dict(row) for row in rows]


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
        moment = doc_time(value)
        if moment is None:
            return value
        if timezone.is_naive(moment):  # the audit log writes timestamptz with an offset; be safe
            moment = moment.replace(tzinfo=dt.UTC)
        return LocalMoment(moment)
    return value


@dataclass(frozen=True)
class LocalMoment:
    """A moment of the history, written out in the viewer's time zone when the page is
    rendered: the cached page bundle serves people in every time zone."""

    at: dt.datetime

    def __str__(self) -> str:
        return date_format(timezone.localtime(self.at), "j M Y H:i")


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


def users_by_id(ids: set[int]) -> dict[int, User]:
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
            # A hidden comment's text never reaches the page (the template says why).
            c["html"] = "" if c["hidden"] else markdown_render(c.get("body", ""), mentions=member_handles)
    users = {u.pk: {"name": str(u), "email": u.email} for u in users_by_id(user_ids).values()}
    for c in comments or []:
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
