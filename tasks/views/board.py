"""The overview pages, the board (with its htmx card moves), the task list and search.

Board columns and list results are rendered once per team generation and kept in Redis
for a minute (tasks.caching): any task write of the team starts a new generation.
"""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import trigger_client_event

from accounts.permissions import permission_has
from taskforge.decorators import team_member_required
from taskforge.errors import ServiceError
from taskforge.params import choice_param, int_param, page_param, text_param
from tasks import services
from tasks.caching import BOARD_TTL, board_generation, board_key
from tasks.forms import BoardFilterForm, TaskFilterForm
from tasks.models import Task, TaskStatus
from tasks.selectors.board import (
    SORT_LABELS,
    SORTS,
    Column,
    board_columns,
    my_tasks,
    task_page,
    tasks_filtered,
    team_tasks,
)
from tasks.selectors.search import tasks_search
from tasks.selectors.tasks import task_for_user
from tasks.selectors.teams import team_for_user, team_members_cached, teams_for_user
from tasks.views.common import team_context
from tasks.workflow import STATUS_LABELS, transition_refusal


@team_member_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    teams = teams_for_user(request.user)
    return render(request, "tasks/index.html", {"teams": teams})


@team_member_required
@require_GET
def mine(request: HttpRequest) -> HttpResponse:
    """ "My tasks": assigned to me, across my teams (open ones unless ?all=1)."""
    include_done = request.GET.get("all") == "1"
    sort = choice_param(request, "sort", SORTS, "due")
    teams = teams_for_user(request.user)
    page = task_page(
        my_tasks(request.user, include_done=include_done, teams=teams),
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
            "sort_labels": SORT_LABELS,
            "query": f"sort={sort}" + ("&all=1" if include_done else ""),
        },
    )


CSRF_SLOT = "tf-csrf-slot"  # filled per request: the columns HTML is shared through the cache
CANNOT_MOVE_OWN = "Only its creator, its assignee or a team admin can move this task."


def _move_options(status: str) -> list[dict[str, str]]:
    """Every other column of the board, with the workflow's reason where a move there is refused."""
    return [
        {"status": s, "label": STATUS_LABELS[s], "reason": transition_refusal(status, s) or ""}
        for s in TaskStatus.values
        if s != status
    ]


def board_context(request: HttpRequest, team: Any, columns: list[Column]) -> dict[str, Any]:
    user = request.user
    edit_any = permission_has(user, team.id, "task.edit_any")
    edit_own = permission_has(user, team.id, "task.edit_own")
    now = timezone.now()
    options = {status: _move_options(status) for status in TaskStatus.values}
    # Precomputed per card (URLs, badges) so a board of a few hundred cards renders fast.
    for column in columns:
        for card in column.cards:
            card.can_move = edit_any or (edit_own and user.pk in (card.creator_id, card.assignee_id))
            # Why this person cannot move the card (guests are told once, above the board).
            card.move_block = "" if card.can_move or not edit_own else CANNOT_MOVE_OWN
            card.move_options = options[card.status]
            card.url = card.get_absolute_url()
            card.move_url = reverse("tasks:move", kwargs={"task_id": card.id})
            card.due_badge = _due_badge(card, now)
    return {
        **team_context(request, team),
        "columns": columns,
        "now": now,
        "status_labels": STATUS_LABELS,
        "csrf_slot": CSRF_SLOT,
    }


def csrf_fill(request: HttpRequest, html: str) -> str:
    """Put this person's CSRF token into columns rendered for a viewer kind (and cached)."""
    return html.replace(CSRF_SLOT, get_token(request))


def _decorate(tasks: Any, now: Any) -> None:
    """Precompute per-row URLs and badges (cheaper than template tags per row)."""
    for task in tasks:
        task.url = task.get_absolute_url()
        task.due_badge = _due_badge(task, now)


def _due_badge(task: Task, now: Any) -> tuple[str, str, str] | None:
    """(css class, text, title) of a card's due badge, or None."""
    if task.due_at is None:
        return None
    when = timezone.localtime(task.due_at)  # the person's time zone (accounts middleware)
    label = f"{when.day} {when:%b}"
    title = f"{when:%Y-%m-%d %H:%M} {timezone.get_current_timezone_name()}"
    if task.status != TaskStatus.DONE and task.due_at < now:
        return ("badge danger", f"overdue {label}", title)
    return ("badge", f"due {label}", title)


def board_filters(team: Any, query: QueryDict) -> tuple[BoardFilterForm, dict[str, Any]]:
    """The board's filter form on `query` and the filters to apply ({} when none or invalid)."""
    members = team_members_cached(team.id)
    form = BoardFilterForm(query or None, member_ids={m["id"] for m in members})
    if not query or not form.is_valid():
        return form, {}
    return form, {name: value for name, value in form.cleaned_data.items() if value}


def shown_filters(request: HttpRequest, team: Any) -> dict[str, Any]:
    """The filters of the board a move or a quick add came from (htmx sends its URL), so the
    columns that come back are filtered like the rest of that board."""
    current = request.htmx.current_url if request.htmx else None
    if not current:
        return {}
    return board_filters(team, QueryDict(urlsplit(current).query))[1]


@team_member_required
@require_GET
def board(request: HttpRequest, team_id: int) -> HttpResponse:
    """The board, filtered by its GET parameters. Its columns are rendered once per team
    generation, viewer kind and filter set, and kept in Redis (tasks.caching.board_key): any
    task write of the team starts a new generation, and the entry lives a minute at most so
    "overdue" badges stay current. Invalid filters: a 400 with the reasons, no columns."""
    team = team_for_user(request.user, team_id)
    user = request.user
    if permission_has(user, team.id, "task.edit_any"):
        viewer = "all"  # may move every card
    elif permission_has(user, team.id, "task.edit_own"):
        viewer = f"own{user.pk}"  # may move their own cards
    else:
        viewer = "read"
    read_only = viewer == "read"
    if permission_has(user, team.id, "task.create"):
        viewer += "+add"  # the columns have a quick-add form
    form, filters = board_filters(team, request.GET)
    invalid = bool(request.GET) and not form.is_valid()
    columns_html = ""
    if not invalid:
        if filters:
            canonical = urlencode(sorted((k, v) for k in request.GET for v in request.GET.getlist(k)))
            who = f":{user.pk}" if filters.get("assignee") == "me" else ""
            viewer += f":f{hashlib.sha256(canonical.encode()).hexdigest()[:16]}{who}"
        viewer += f":{timezone.get_current_timezone_name()}"  # due dates are shown in it
        key = board_key(team.id, board_generation(team.id), viewer)
        columns_html = cache.get(key)
        if columns_html is None:
            columns = board_columns(team.id, filters=filters, user=user)
            context = board_context(request, team, columns)
            columns_html = render_to_string("tasks/partials/board_columns.html", context, request=request)
            cache.set(key, columns_html, BOARD_TTL)
        columns_html = mark_safe(csrf_fill(request, columns_html))  # noqa: S308 - our own rendered template
    return render(
        request,
        "tasks/board.html",
        {
            **team_context(request, team),
            "read_only": read_only,
            "filter_form": form,
            "filtered": bool(filters),
            "filter_errors": form.errors if invalid else None,
            "members": team_members_cached(team.id),
            "columns_html": columns_html,
        },
        status=400 if invalid else 200,
    )


def _card_focus(response: HttpResponse, task: Task) -> HttpResponse:
    """The moved card was re-rendered in its new column: tasks.js gives it the focus back."""
    return trigger_client_event(response, "tf-card-moved", {"card": f"card-{task.id}"}, after="settle")


@team_member_required
@require_POST
def task_move(request: HttpRequest, task_id: str) -> HttpResponse:
    """Move one card (one request per move). An htmx request gets back the two columns that
    changed (out-of-band swaps) and a status message; other clients are redirected."""
    task = task_for_user(request.user, task_id)
    try:
        version = int(request.POST.get("version", ""))
    except ValueError:
        version = -1
    status = request.POST.get("status", "")
    try:
        moved, old_status = services.task_move(
            actor=request.user, task_id=task.id, status=status, expected_version=version
        )
    except ServiceError as exc:
        if not request.htmx or exc.status == 404:
            raise  # ServiceErrorMiddleware answers
        # htmx: the board again with the message, so the card goes back where it is.
        columns = board_columns(task.team_id, filters=shown_filters(request, task.team), user=request.user)
        ctx = board_context(request, task.team, columns)
        html = render_to_string(
            "tasks/partials/move_result.html", {**ctx, "message": exc.message, "level": "error"}, request=request
        )
        return _card_focus(HttpResponse(csrf_fill(request, html), status=exc.status), task)
    if not request.htmx:
        if request.POST.get("next") == "detail":
            return redirect("tasks:detail", task_id=moved.id)
        return redirect("tasks:board", team_id=moved.team_id)
    statuses = [old_status] if old_status == moved.status else [old_status, moved.status]
    columns = board_columns(
        moved.team_id, statuses=statuses, filters=shown_filters(request, task.team), user=request.user
    )
    ctx = board_context(request, task.team, columns)
    message = f"Moved “{moved.title}” to {STATUS_LABELS[moved.status]}."
    html = render_to_string(
        "tasks/partials/move_result.html", {**ctx, "message": message, "level": "success"}, request=request
    )
    return _card_focus(HttpResponse(csrf_fill(request, html)), moved)


@team_member_required
@require_GET
def task_list(request: HttpRequest, team_id: int) -> HttpResponse:
    """The filtered, sorted, paginated list. The results part is cached like the board
    (per team generation and query; per user only for "assignee=me"), for a minute at most."""
    team = team_for_user(request.user, team_id)
    members = team_members_cached(team.id)
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
        **team_context(request, team),
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
        zone = timezone.get_current_timezone_name()  # due dates are shown in it
        key = f"tasks:list:{team.id}:{board_generation(team.id)}:{who}:{zone}:{digest}"
        results_html = cache.get(key)
    if results_html is None:
        page = None
        if status == 200:
            qs = tasks_filtered(team_tasks(team.id), filters, user=request.user)
            page = task_page(qs, sort=sort, page=filters.get("page") or 1)
            _decorate(page.object_list, timezone.now())
        results_html = render_to_string("tasks/partials/list_results.html", {**context, "page": page}, request=request)
        if key is not None:
            cache.set(key, results_html, BOARD_TTL)
    if request.htmx:
        return HttpResponse(results_html, status=status)
    context["results_html"] = mark_safe(results_html)  # noqa: S308 - our own rendered template
    return render(request, "tasks/list.html", context, status=status)


@team_member_required
@require_GET
def search(request: HttpRequest) -> HttpResponse:
    q = text_param(request, "q")
    team_filter = int_param(request, "team")
    teams = teams_for_user(request.user)
    if team_filter is not None and team_filter not in {t.id for t in teams}:
        raise Http404("No such team.")
    result = tasks_search(request.user, q, team_id=team_filter)
    template = "tasks/partials/search_results.html" if request.htmx else "tasks/search.html"
    return render(
        request,
        template,
        {"q": q, "result": result, "teams": teams, "team_id": team_filter, "status_labels": dict(TaskStatus.choices)},
    )
