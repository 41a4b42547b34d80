"""Views of the tasks app: parse, call a service or selector, render (full page or htmx partial).

Outsiders get 404 for a team's tasks (selectors return None); team members without the
needed permission get 403 (PermissionDenied from accounts.permissions.permission_require).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import time
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRefresh, trigger_client_event

from accounts.permissions import permission_has, permission_require
from taskforge.decorators import team_member_required
from taskforge.mongo import MongoUnavailable
from taskforge.params import choice_param, int_param, page_param, redirect_target, text_param
from tasks import documents, selectors, services
from tasks.attachments import attachment_path
from tasks.caching import BOARD_TTL, board_generation, board_key
from tasks.charts import bar_chart, priority_chart, weekly_chart
from tasks.conflicts import task_edit_conflicts
from tasks.forms import AttachmentForm, CommentForm, CustomFieldForm, TaskFilterForm, TaskForm
from tasks.models import Task, TaskStatus, TaskWatcher
from tasks.services import STATUS_TRANSITIONS, TaskServiceError, TaskStale, task_can_edit


def _service_error(request: HttpRequest, exc: TaskServiceError, *, title: str = "That did not work") -> HttpResponse:
    if exc.status == 404:
        raise Http404(exc.message)
    template = "tasks/partials/message.html" if request.htmx else "tasks/error.html"
    return render(request, template, {"title": title, "message": exc.message, "level": "error"}, status=exc.status)


def _team_or_404(request: HttpRequest, team_id: int) -> Any:
    team = selectors.team_for_user(request.user, team_id)
    if team is None:
        raise Http404("No such team.")
    return team


def _task_or_404(request: HttpRequest, task_id: Any) -> Task:
    task = selectors.task_for_user(request.user, task_id)
    if task is None:
        raise Http404("No such task.")
    return task


def _team_context(request: HttpRequest, team: Any) -> dict[str, Any]:
    user = request.user
    return {
        "team": team,
        "can_create": permission_has(user, team.id, "task.create"),
        "can_manage": permission_has(user, team.id, "team.manage"),
    }


# --- overview pages -------------------------------------------------------------------------------


@team_member_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    teams = selectors.teams_for_user(request.user)
    return render(request, "tasks/index.html", {"teams": teams})


@team_member_required
@require_GET
def mine(request: HttpRequest) -> HttpResponse:
    """ "My tasks": assigned to me, across my teams (open ones unless ?all=1)."""
    include_done = request.GET.get("all") == "1"
    sort = choice_param(request, "sort", selectors.SORTS, "due")
    teams = selectors.teams_for_user(request.user)
    page = selectors.task_page(
        selectors.my_tasks(request.user, include_done=include_done, teams=teams),
        sort=sort,
        page=page_param(request),
    )
    _decorate(page.object_list, timezone.now())
    return render(
        request,
        "tasks/mine.html",
        {
            "page": page,
            "include_done": include_done,
            "sort": sort,
            "teams": teams,
            "now": timezone.now(),
            "sort_labels": selectors.SORT_LABELS,
            "query": f"sort={sort}" + ("&all=1" if include_done else ""),
        },
    )


# --- board ----------------------------------------------------------------------------------------


def _board_context(request: HttpRequest, team: Any, columns: list[selectors.Column]) -> dict[str, Any]:
    statuses = list(TaskStatus.values)
    user = request.user
    edit_any = permission_has(user, team.id, "task.edit_any")
    edit_own = permission_has(user, team.id, "task.edit_own")
    labels = dict(TaskStatus.choices)
    now = timezone.now()
    moves = {
        status: ([(s, labels[s]) for s in sorted(STATUS_TRANSITIONS[status], key=statuses.index)],
                 " ".join(sorted(STATUS_TRANSITIONS[status], key=statuses.index)))
        for status in statuses
    }  # fmt: skip
    # Precomputed per card (URLs, badges) so a board of a few hundred cards renders fast.
    for column in columns:
        for card in column.cards:
            card.can_move = edit_any or (edit_own and user.pk in (card.creator_id, card.assignee_id))
            card.moves, card.move_codes = moves[card.status]
            card.url = f"/tasks/{card.id}/"
            card.due_badge = _due_badge(card, now)
    return {
        **_team_context(request, team),
        "columns": columns,
        "now": timezone.now(),
        "status_labels": dict(TaskStatus.choices),
    }


def _decorate(tasks: Any, now: Any) -> None:
    """Precompute per-row URLs and badges (cheaper than template tags per row)."""
    for task in tasks:
        task.url = f"/tasks/{task.id}/"
        task.due_badge = _due_badge(task, now)


def _due_badge(task: Task, now: Any) -> tuple[str, str, str] | None:
    """(css class, text, title) of a card's due badge, or None."""
    if task.due_at is None:
        return None
    when = task.due_at.astimezone(dt.UTC)
    label = f"{when.day} {when:%b}"
    title = f"{when:%Y-%m-%d %H:%M} UTC"
    if task.status != TaskStatus.DONE and task.due_at < now:
        return ("badge danger", f"overdue {label}", title)
    return ("badge", f"due {label}", title)


@team_member_required
@require_GET
def board(request: HttpRequest, team_id: int) -> HttpResponse:
    """The board. Its columns are rendered once per team generation and viewer kind and
    kept in Redis (tasks.caching.board_key): any task write of the team starts a new
    generation, and the entry lives a minute at most so "overdue" badges stay current."""
    team = _team_or_404(request, team_id)
    user = request.user
    if permission_has(user, team.id, "task.edit_any"):
        viewer = "all"  # may move every card
    elif permission_has(user, team.id, "task.edit_own"):
        viewer = f"own{user.pk}"  # may move their own cards
    else:
        viewer = "read"
    key = board_key(team.id, board_generation(team.id), viewer)
    columns_html = cache.get(key)
    if columns_html is None:
        columns = selectors.board_columns(team.id)
        columns_html = render_to_string(
            "tasks/partials/board_columns.html", _board_context(request, team, columns), request=request
        )
        cache.set(key, columns_html, BOARD_TTL)
    return render(
        request,
        "tasks/board.html",
        {**_team_context(request, team), "columns_html": mark_safe(columns_html)},  # noqa: S308 - our own rendered template
    )


def _card_focus(response: HttpResponse, task: Task) -> HttpResponse:
    """The moved card was re-rendered in its new column: tasks.js gives it the focus back."""
    return trigger_client_event(response, "tf-card-moved", {"card": f"card-{task.id}"}, after="settle")


@team_member_required
@require_POST
def task_move(request: HttpRequest, task_id: str) -> HttpResponse:
    """Move one card (one request per move). An htmx request gets back the two columns that
    changed (out-of-band swaps) and a status message; other clients are redirected."""
    task = _task_or_404(request, task_id)
    try:
        version = int(request.POST.get("version", ""))
    except ValueError:
        version = -1
    status = request.POST.get("status", "")
    try:
        moved, old_status = services.task_move(
            actor=request.user, task_id=task.id, status=status, expected_version=version
        )
    except TaskServiceError as exc:
        if exc.status == 404:
            raise Http404(exc.message) from None
        if not request.htmx:
            return _service_error(request, exc, title="The card was not moved")
        columns = selectors.board_columns(task.team_id)
        ctx = _board_context(request, task.team, columns)
        response = render(
            request,
            "tasks/partials/move_result.html",
            {**ctx, "message": exc.message, "level": "error"},
            status=exc.status,
        )
        return _card_focus(response, task)
    if not request.htmx:
        if request.POST.get("next") == "detail":
            return redirect("tasks:detail", task_id=moved.id)
        return redirect("tasks:board", team_id=moved.team_id)
    statuses = [old_status] if old_status == moved.status else [old_status, moved.status]
    columns = selectors.board_columns(moved.team_id, statuses=statuses)
    ctx = _board_context(request, task.team, columns)
    labels = dict(TaskStatus.choices)
    message = f"Moved “{moved.title}” to {labels[moved.status]}."
    response = render(request, "tasks/partials/move_result.html", {**ctx, "message": message, "level": "success"})
    return _card_focus(response, moved)


# --- list -----------------------------------------------------------------------------------------


@team_member_required
@require_GET
def task_list(request: HttpRequest, team_id: int) -> HttpResponse:
    """The filtered, sorted, paginated list. The results part is cached like the board
    (per team generation and query; per user only for "assignee=me"), for a minute at most."""
    team = _team_or_404(request, team_id)
    members = selectors.team_members_cached(team.id)
    form = TaskFilterForm(request.GET or None, member_ids={m["id"] for m in members})
    status = 200
    filters: dict[str, Any] = {}
    if request.GET and not form.is_valid():
        status = 400
    elif request.GET:
        filters = form.cleaned_data
    sort = filters.get("sort") or "priority"
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        **_team_context(request, team),
        "form": form,
        "members": members,
        "sort": sort,
        "query": query.urlencode(),
    }
    results_html = None
    key = None
    if status == 200:
        canonical = urlencode(sorted((k, v) for k in request.GET for v in request.GET.getlist(k)))
        who = str(request.user.pk) if filters.get("assignee") == "me" else "-"
        digest = hashlib.sha256(canonical.encode()).hexdigest()[:24]
        key = f"tasks:list:{team.id}:{board_generation(team.id)}:{who}:{digest}"
        results_html = cache.get(key)
    if results_html is None:
        page = None
        if status == 200:
            qs = selectors.tasks_filtered(selectors.team_tasks(team.id), filters, user=request.user)
            page = selectors.task_page(qs, sort=sort, page=filters.get("page") or 1)
            _decorate(page.object_list, timezone.now())
        results_html = render_to_string("tasks/partials/list_results.html", {**context, "page": page}, request=request)
        if key is not None:
            cache.set(key, results_html, BOARD_TTL)
    if request.htmx:
        return HttpResponse(results_html, status=status)
    context["results_html"] = mark_safe(results_html)  # noqa: S308 - our own rendered template
    return render(request, "tasks/list.html", context, status=status)


# --- create / edit / delete -----------------------------------------------------------------------


def _task_form_kwargs(team_id: int, statuses: list[str] | None = None) -> dict[str, Any]:
    return {
        "members": services.team_members(team_id),
        "custom_fields": selectors.custom_fields_for(team_id),
        "statuses": statuses,
    }


def _task_fields(form: TaskForm) -> dict[str, Any]:
    """The task's fields from a valid TaskForm, as task_create and task_update take them."""
    data = form.cleaned_data
    return {
        "title": data["title"],
        "description": data["description"],
        "status": data["status"],
        "priority": data["priority"],
        "assignee_id": data["assignee"] or None,
        "due_at": data["due_at"],
        "tags": data["tags"],
        "custom_fields": form.custom_values(),
    }


REFUSED_MESSAGE = (
    "You may no longer do this in this team (your role or the team's permissions changed). "
    "Nothing was saved; what you entered is still here."
)


def _form_refusal(form: Any, exc: TaskServiceError | PermissionDenied) -> int:
    """Show a refusal on the form (on the fields the service named, if any); its HTTP status."""
    if isinstance(exc, PermissionDenied):
        form.add_error(None, REFUSED_MESSAGE)
        return 403
    if exc.status == 404:
        raise Http404(exc.message)
    fields = [key for key in exc.errors if key in form.fields]
    for key in fields:
        form.add_error(key, exc.errors[key])
    if not fields:
        form.add_error(None, exc.message)
    return exc.status


@team_member_required
@require_http_methods(["GET", "POST"])
def task_new(request: HttpRequest, team_id: int) -> HttpResponse:
    team = _team_or_404(request, team_id)
    allowed = permission_has(request.user, team.id, "task.create")
    if not allowed and request.method == "GET":
        raise PermissionDenied("You may not create tasks in this team.")
    form = TaskForm(request.POST or None, **_task_form_kwargs(team.id))
    status = 200
    if request.method == "POST":
        status = 400
        if not allowed:
            form.add_error(None, REFUSED_MESSAGE)  # the draft stays in the form
            status = 403
        elif form.is_valid():
            try:
                task = services.task_create(actor=request.user, team_id=team.id, **_task_fields(form))
            except (TaskServiceError, PermissionDenied) as exc:
                status = _form_refusal(form, exc)  # the draft stays in the form
            else:
                return redirect("tasks:detail", task_id=task.id)
    return render(
        request, "tasks/task_form.html", {**_team_context(request, team), "form": form, "creating": True}, status=status
    )


def _edit_statuses(task: Task, *keep: str) -> list[str]:
    """The statuses the edit form offers: the current one, those reachable from it, and `keep`."""
    return [s for s in TaskStatus.values if s == task.status or s in STATUS_TRANSITIONS[task.status] or s in keep]


def _task_edit_conflict(request: HttpRequest, task_id: str, form: TaskForm) -> HttpResponse:
    """A stale edit (409): the task as it is now next to the person's values, and the form again
    with their values on the latest version, so one click saves theirs over it."""
    latest = _task_or_404(request, task_id)
    try:
        detail: dict[str, Any] | None = services.task_detail_current(latest)
    except TaskServiceError:  # the document server is down: compare the row's fields only
        detail = None
    kwargs = _task_form_kwargs(latest.team_id, _edit_statuses(latest, form.cleaned_data["status"]))
    conflicts = task_edit_conflicts(
        current=latest,
        current_detail=detail,
        mine=_task_fields(form),
        members=kwargs["members"],
        custom_fields=kwargs["custom_fields"],
    )
    data = request.POST.copy()
    data["version"] = str(latest.version)
    context = {
        **_team_context(request, latest.team),
        "form": TaskForm(data, **kwargs),
        "task": latest,
        "creating": False,
        "conflicts": conflicts,
    }
    return render(request, "tasks/task_form.html", context, status=409)


@team_member_required
@require_http_methods(["GET", "POST"])
def task_edit(request: HttpRequest, task_id: str) -> HttpResponse:
    task = _task_or_404(request, task_id)
    editable = task_can_edit(request.user, task)
    if not editable and request.method == "GET":
        raise PermissionDenied("You may not edit this task.")
    kwargs = _task_form_kwargs(task.team_id, _edit_statuses(task))
    status = 200
    if request.method == "POST":
        form = TaskForm(request.POST, **kwargs)
        status = 400
        if not editable:
            form.add_error(None, REFUSED_MESSAGE)  # the draft stays in the form
            status = 403
        elif form.is_valid():
            try:
                services.task_update(
                    actor=request.user,
                    task_id=task.id,
                    expected_version=form.cleaned_data["version"] or -1,
                    **_task_fields(form),
                )
            except TaskStale:
                return _task_edit_conflict(request, task_id, form)
            except (TaskServiceError, PermissionDenied) as exc:
                status = _form_refusal(form, exc)  # the draft stays in the form
            else:
                return redirect("tasks:detail", task_id=task.id)
    else:
        try:
            detail = services.task_detail_current(task)
        except TaskServiceError as exc:
            return _service_error(request, exc, title="The task cannot be edited right now")
        initial = {
            "title": task.title,
            "description": detail["description"],
            "status": task.status,
            "priority": task.priority,
            "assignee": str(task.assignee_id or ""),
            "due_at": task.due_at,
            "tags": ", ".join(detail["tags"]),
            "version": task.version,
            **{f"cf_{k}": v for k, v in detail["custom_fields"].items()},
        }
        form = TaskForm(initial=initial, **kwargs)
    return render(
        request,
        "tasks/task_form.html",
        {
            **_team_context(request, task.team),
            "form": form,
            "task": task,
            "creating": False,
        },
        status=status,
    )


@team_member_required
@require_http_methods(["GET", "POST"])
def task_delete(request: HttpRequest, task_id: str) -> HttpResponse:
    """GET asks for confirmation; POST deletes."""
    task = _task_or_404(request, task_id)
    permission_require(request.user, task.team_id, "task.delete")
    if request.method == "POST":
        try:
            services.task_delete(actor=request.user, task_id=task.id)
        except TaskServiceError as exc:
            return _service_error(request, exc)
        return redirect("tasks:board", team_id=task.team_id)
    return render(request, "tasks/task_confirm_delete.html", {"task": task, "team": task.team})


@team_member_required
@require_POST
def task_watch(request: HttpRequest, task_id: str) -> HttpResponse:
    task = _task_or_404(request, task_id)
    watch = request.POST.get("watch") == "1"
    services.task_watch_set(actor=request.user, task_id=task.id, watch=watch)
    if request.htmx:
        return render(request, "tasks/partials/watch_button.html", {"task": task, "watching": watch})
    return redirect("tasks:detail", task_id=task.id)


# --- task page ------------------------------------------------------------------------------------


def _task_page(
    request: HttpRequest,
    task: Task,
    *,
    comment_form: CommentForm | None = None,
    attachment_form: AttachmentForm | None = None,
    status: int = 200,
) -> HttpResponse:
    """The task page; a refused comment or upload is shown again in its form, with its text."""
    user = request.user
    bundle = selectors.task_page_bundle(task)
    definitions = selectors.custom_fields_for(task.team_id)
    values = (bundle["detail"] or {}).get("custom_fields") or {}
    custom_rows = [(d.label, values.get(d.key)) for d in definitions if values.get(d.key) not in (None, "")]
    can_moderate = permission_has(user, task.team_id, "comment.moderate")
    comments = bundle["comments"]
    if comments:
        for c in comments:
            c["can_change"] = c.get("author_id") == user.pk or can_moderate
    statuses = list(TaskStatus.values)
    context = {
        "task": task,
        "team": task.team,
        "bundle": bundle,
        "users": bundle["users"],
        "custom_rows": custom_rows,
        "can_edit": task_can_edit(user, task),
        "can_delete": permission_has(user, task.team_id, "task.delete"),
        "can_comment": permission_has(user, task.team_id, "comment.create"),
        "watching": TaskWatcher.objects.filter(task_id=task.id, user_id=user.pk).exists(),
        "comment_form": comment_form or CommentForm(),
        "attachment_form": attachment_form or AttachmentForm(),
        "moves": [
            (s, dict(TaskStatus.choices)[s]) for s in sorted(STATUS_TRANSITIONS[task.status], key=statuses.index)
        ],
        "status_labels": dict(TaskStatus.choices),
        "now": timezone.now(),
        "max_upload": settings.ATTACHMENT_MAX_BYTES,
    }
    return render(request, "tasks/detail.html", context, status=status)


@team_member_required
@require_GET
def task_detail(request: HttpRequest, task_id: str) -> HttpResponse:
    task = _task_or_404(request, task_id)
    if selectors.unread_count(request.user.pk):  # from Redis: most views have nothing to mark
        # Notifications unavailable: the page still opens, and they stay unread.
        with contextlib.suppress(services.DocumentsUnavailable):
            services.notifications_mark_task_read(user=request.user, task_id=task.id)
    return _task_page(request, task)


def _form_refused(
    request: HttpRequest, task: Task, template: str, form_name: str, form: Any, status: int
) -> HttpResponse:
    """htmx: the form again, with its errors and the person's input; otherwise the whole task page."""
    if request.htmx:
        context = {"task": task, form_name: form, "max_upload": settings.ATTACHMENT_MAX_BYTES}
        return render(request, template, context, status=status)
    return _task_page(request, task, **{form_name: form}, status=status)


# --- attachments ----------------------------------------------------------------------------------


@team_member_required
@require_POST
def attachment_upload(request: HttpRequest, task_id: str) -> HttpResponse:
    task = _task_or_404(request, task_id)
    form = AttachmentForm(request.POST, request.FILES)
    if not form.is_valid():
        return _form_refused(request, task, "tasks/partials/upload_form.html", "attachment_form", form, 400)
    try:
        meta = services.task_attachment_add(actor=request.user, task_id=task.id, upload=form.cleaned_data["file"])
    except (TaskServiceError, PermissionDenied) as exc:
        status = _form_refusal(form, exc)
        return _form_refused(request, task, "tasks/partials/upload_form.html", "attachment_form", form, status)
    messages.success(request, f"Attached {meta['name']}.")
    return _to_task_page(request, task, "")


@team_member_required
@require_GET
def attachment_download(request: HttpRequest, task_id: str, attachment_id: str) -> HttpResponse:
    """Serve an attachment to someone who may see the task, under its original name."""
    task = _task_or_404(request, task_id)
    meta = None
    try:
        detail = services.task_detail_current(task)
        meta = next((a for a in detail["attachments"] if a.get("id") == attachment_id), None)
        if meta is None:
            doc = documents.comments().find_one(
                {"task_id": str(task.id), "attachments": {"$elemMatch": {"id": attachment_id}}}
            )
            if doc is not None:
                meta = next((a for a in doc["attachments"] if a.get("id") == attachment_id), None)
    except (TaskServiceError, MongoUnavailable):
        return render(
            request,
            "tasks/error.html",
            {
                "title": "Attachment unavailable",
                "message": "The document server is unavailable right now; please try again in a minute.",
            },
            status=503,
        )
    if meta is None:
        raise Http404("No such attachment.")
    try:
        handle = open(attachment_path(str(task.id), meta["stored_name"]), "rb")
    except (OSError, ValueError):
        raise Http404("The file is missing.") from None
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=meta["name"],
        content_type=meta.get("content_type") or "application/octet-stream",
    )
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --- comments -------------------------------------------------------------------------------------


def _to_task_page(request: HttpRequest, task: Task, anchor: str) -> HttpResponse:
    """After a comment or an upload: the task page again. The htmx forms are on that page, so it
    is reloaded (a redirect to the same URL with only a new #fragment would not load it)."""
    if request.htmx:
        return HttpResponseClientRefresh()
    return redirect(reverse("tasks:detail", kwargs={"task_id": task.id}) + anchor)


@team_member_required
@require_POST
def comment_create(request: HttpRequest, task_id: str) -> HttpResponse:
    task = _task_or_404(request, task_id)
    form = CommentForm(request.POST, request.FILES)
    if not form.is_valid():
        return _form_refused(request, task, "tasks/partials/comment_form.html", "comment_form", form, 400)
    try:
        services.comment_create(
            actor=request.user, task_id=task.id, body=form.cleaned_data["body"], upload=form.cleaned_data.get("file")
        )
    except (TaskServiceError, PermissionDenied) as exc:
        status = _form_refusal(form, exc)
        return _form_refused(request, task, "tasks/partials/comment_form.html", "comment_form", form, status)
    return _to_task_page(request, task, "#comments")


@team_member_required
@require_http_methods(["GET", "POST"])
def comment_edit(request: HttpRequest, task_id: str, comment_id: str) -> HttpResponse:
    task = _task_or_404(request, task_id)
    if request.method == "GET":
        try:
            doc = services._comment_load(request.user, task, comment_id)
        except TaskServiceError as exc:
            return _service_error(request, exc)
        return render(
            request,
            "tasks/comment_edit.html",
            {"task": task, "team": task.team, "comment": doc, "form": CommentForm(initial={"body": doc.get("body")})},
        )
    form = CommentForm({"body": request.POST.get("body", "")})
    status = 400
    if form.is_valid():
        try:
            services.comment_update(
                actor=request.user, task_id=task.id, comment_id=comment_id, body=form.cleaned_data["body"]
            )
        except (TaskServiceError, PermissionDenied) as exc:
            status = _form_refusal(form, exc)  # the text comes back with the refusal
        else:
            return redirect(reverse("tasks:detail", kwargs={"task_id": task.id}) + f"#c-{comment_id}")
    context = {"task": task, "team": task.team, "form": form}
    return render(request, "tasks/comment_edit.html", context, status=status)


@team_member_required
@require_POST
def comment_delete(request: HttpRequest, task_id: str, comment_id: str) -> HttpResponse:
    task = _task_or_404(request, task_id)
    try:
        services.comment_delete(actor=request.user, task_id=task.id, comment_id=comment_id)
    except TaskServiceError as exc:
        return _service_error(request, exc, title="The comment was not deleted")
    return redirect(reverse("tasks:detail", kwargs={"task_id": task.id}) + "#comments")


@team_member_required
@require_GET
def member_autocomplete(request: HttpRequest, team_id: int) -> HttpResponse:
    """@mention suggestions: team members whose name, handle or email starts with ?q."""
    team = _team_or_404(request, team_id)
    q = text_param(request, "q").lstrip("@").lower()[:60]
    members = services.team_members(team.id)
    matches = [
        m
        for m in members
        if not q
        or m["handle"].startswith(q)
        or m["email"].lower().startswith(q)
        or any(part.lower().startswith(q) for part in m["name"].split())
    ][:8]
    return render(request, "tasks/partials/mention_suggestions.html", {"members": matches, "q": q})


# --- custom fields --------------------------------------------------------------------------------


@team_member_required
@require_http_methods(["GET", "POST"])
def custom_fields(request: HttpRequest, team_id: int) -> HttpResponse:
    team = _team_or_404(request, team_id)
    permission_require(request.user, team.id, "team.manage")
    form = CustomFieldForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.custom_field_save(actor=request.user, team_id=team.id, **form.cleaned_data)
            except TaskServiceError as exc:
                if exc.status != 400:
                    return _service_error(request, exc)
                for key, text in exc.errors.items():
                    form.add_error(key if key in form.fields else None, text)
            else:
                return redirect("tasks:custom_fields", team_id=team.id)
        status = 400
    return render(
        request,
        "tasks/custom_fields.html",
        {
            **_team_context(request, team),
            "form": form,
            "fields": selectors.custom_fields_for(team.id),
        },
        status=status,
    )


@team_member_required
@require_http_methods(["GET", "POST"])
def custom_field_edit(request: HttpRequest, team_id: int, field_id: int) -> HttpResponse:
    team = _team_or_404(request, team_id)
    permission_require(request.user, team.id, "team.manage")
    field = next((f for f in selectors.custom_fields_for(team.id) if f.id == field_id), None)
    if field is None:
        raise Http404("No such custom field.")
    initial = {"key": field.key, "label": field.label, "field_type": field.field_type,
               "choices": "\n".join(field.choices or []), "required": field.required}  # fmt: skip
    form = CustomFieldForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.custom_field_save(actor=request.user, team_id=team.id, field_id=field.id, **form.cleaned_data)
            except TaskServiceError as exc:
                if exc.status != 400:
                    return _service_error(request, exc)
                for key, text in exc.errors.items():
                    form.add_error(key if key in form.fields else None, text)
            else:
                return redirect("tasks:custom_fields", team_id=team.id)
        status = 400
    return render(
        request,
        "tasks/custom_field_edit.html",
        {**_team_context(request, team), "form": form, "field": field},
        status=status,
    )


@team_member_required
@require_POST
def custom_field_delete(request: HttpRequest, team_id: int, field_id: int) -> HttpResponse:
    team = _team_or_404(request, team_id)
    try:
        services.custom_field_delete(actor=request.user, team_id=team.id, field_id=field_id)
    except TaskServiceError as exc:
        return _service_error(request, exc)
    return redirect("tasks:custom_fields", team_id=team.id)


# --- search ---------------------------------------------------------------------------------------


@team_member_required
@require_GET
def search(request: HttpRequest) -> HttpResponse:
    q = text_param(request, "q")
    team_filter = int_param(request, "team")
    teams = selectors.teams_for_user(request.user)
    if team_filter is not None and team_filter not in {t.id for t in teams}:
        raise Http404("No such team.")
    result = selectors.tasks_search(request.user, q, team_id=team_filter)
    template = "tasks/partials/search_results.html" if request.htmx else "tasks/search.html"
    return render(
        request,
        template,
        {"q": q, "result": result, "teams": teams, "team_id": team_filter, "status_labels": dict(TaskStatus.choices)},
    )


# --- notifications --------------------------------------------------------------------------------


def _poll_seconds() -> int:
    return settings.NOTIFICATION_POLL_SECONDS


@require_GET
def notifications_badge(request: HttpRequest) -> HttpResponse:
    """The bell with the unread count, refreshed by htmx polling.

    Why polling and not server-sent events: the site runs on gunicorn with a small, fixed
    number of worker threads; an SSE stream holds one of them for as long as it is open,
    so every open tab would pin a thread (and a stream per tab across 20 users could
    starve the pool). A poll every NOTIFICATION_POLL_SECONDS (15 s by default) is one
    short request answered from Redis (the unread counter), costs nothing between polls,
    survives proxies and reconnects without extra code, and is fast enough for an
    unread badge. The element replaces itself (outerHTML) and carries the next trigger;
    a signed-out client gets HTTP 286, which tells htmx to stop polling.
    """
    if not request.user.is_authenticated or not request.user.in_a_team:
        return HttpResponse(status=286)  # signed out (or in no team any more): stop polling
    count = selectors.unread_count(request.user.pk)
    return render(request, "tasks/partials/bell.html", {"unread": count, "poll_seconds": _poll_seconds()})


@team_member_required
@require_GET
def notifications_list(request: HttpRequest) -> HttpResponse:
    """The list (the region re-polls itself, like the bell; see notifications_badge)."""
    items = selectors.notifications_for(request.user.pk)
    count = selectors.unread_count(request.user.pk)
    context = {"items": items, "unread": count, "poll_seconds": _poll_seconds()}
    if request.htmx and request.GET.get("fragment") == "list":
        return render(request, "tasks/partials/notification_list.html", context)
    return render(request, "tasks/notifications.html", context)


@team_member_required
@require_POST
def notification_read(request: HttpRequest, notification_id: str) -> HttpResponse:
    try:
        services.notification_mark_read(user=request.user, notification_id=notification_id)
    except TaskServiceError as exc:
        return _service_error(request, exc)
    target = redirect_target(request, "")
    if target.startswith("/tasks/"):
        return redirect(target)
    if request.htmx:
        items = selectors.notifications_for(request.user.pk)
        return render(
            request,
            "tasks/partials/notification_list.html",
            {"items": items, "unread": selectors.unread_count(request.user.pk), "poll_seconds": _poll_seconds()},
        )
    return redirect("tasks:notifications")


@team_member_required
@require_POST
def notifications_read_all(request: HttpRequest) -> HttpResponse:
    try:
        services.notifications_mark_all_read(user=request.user)
    except TaskServiceError as exc:
        return _service_error(request, exc)
    if request.htmx:
        items = selectors.notifications_for(request.user.pk)
        return render(
            request,
            "tasks/partials/notification_list.html",
            {"items": items, "unread": 0, "poll_seconds": _poll_seconds()},
        )
    return redirect("tasks:notifications")


# --- dashboard ------------------------------------------------------------------------------------


def _charts(numbers: dict[str, Any]) -> dict[str, Any]:
    return {
        "status_chart": bar_chart(numbers["by_status"], title="Tasks by status"),
        "priority_chart": priority_chart(numbers["by_priority"], title="Open tasks by priority"),
        "weekly_chart": weekly_chart(numbers["weekly"], title="Created against done, per week (12 weeks)"),
        "group_chart": bar_chart(numbers["groups"][:10] or [("—", 0)], title=numbers["group_label"]),
    }


@team_member_required
@require_GET
def dashboard_me(request: HttpRequest) -> HttpResponse:
    started = time.perf_counter()
    numbers = selectors.dashboard_user(request.user)
    teams = selectors.teams_for_user(request.user)
    return render(
        request,
        "tasks/dashboard.html",
        {
            "numbers": numbers,
            **_charts(numbers),
            "teams": teams,
            "scope": "Your tasks",
            "elapsed_ms": round((time.perf_counter() - started) * 1000, 1),
        },
    )


@team_member_required
@require_GET
def dashboard_team(request: HttpRequest, team_id: int) -> HttpResponse:
    team = _team_or_404(request, team_id)
    numbers = selectors.dashboard_team(team.id)
    return render(
        request,
        "tasks/dashboard.html",
        {
            **_team_context(request, team),
            "numbers": numbers,
            **_charts(numbers),
            "scope": team.name,
        },
    )
