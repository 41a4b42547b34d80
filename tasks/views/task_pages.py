"""A task's own pages: create, edit (with the stale-edit comparison), delete, watch, and the
task page, which holds the comment and upload forms (a refused one comes back with its text).
"""

from __future__ import annotations

import contextlib
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRefresh

from accounts.permissions import permission_has, permission_require
from taskforge.decorators import team_member_required
from taskforge.errors import Conflict, ServiceError, Unavailable, form_refusal
from tasks import services
from tasks.conflicts import task_edit_conflicts
from tasks.extensions import task_links
from tasks.forms import AttachmentForm, CommentForm, TaskForm
from tasks.models import Task, TaskStatus
from tasks.selectors.notifications import unread_count
from tasks.selectors.task_page import task_page_bundle
from tasks.selectors.tasks import task_can_edit, task_detail_current, task_for_user, task_watched_by
from tasks.selectors.teams import custom_fields_for, team_for_user, team_members
from tasks.views.common import team_context
from tasks.workflow import STATUS_TRANSITIONS


def _task_form_kwargs(team_id: int, statuses: list[str] | None = None) -> dict[str, Any]:
    return {
        "members": team_members(team_id),
        "custom_fields": custom_fields_for(team_id),
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


@team_member_required
@require_http_methods(["GET", "POST"])
def task_new(request: HttpRequest, team_id: int) -> HttpResponse:
    team = team_for_user(request.user, team_id)
    allowed = permission_has(request.user, team.id, "task.create")
    if not allowed and request.method == "GET":
        raise PermissionDenied("You may not create tasks in this team.")
    form = TaskForm(request.POST or None, **_task_form_kwargs(team.id))
    status = 200
    if request.method == "POST":
        status = 400
        if not allowed:
            status = form_refusal(form, PermissionDenied())  # the draft stays in the form
        elif form.is_valid():
            try:
                task = services.task_create(actor=request.user, team_id=team.id, **_task_fields(form))
            except (ServiceError, PermissionDenied) as exc:
                status = form_refusal(form, exc)  # the draft stays in the form
            else:
                return redirect("tasks:detail", task_id=task.id)
    return render(
        request, "tasks/task_form.html", {**team_context(request, team), "form": form, "creating": True}, status=status
    )


def _edit_statuses(task: Task, *keep: str) -> list[str]:
    """The statuses the edit form offers: the current one, those reachable from it, and `keep`."""
    return [s for s in TaskStatus.values if s == task.status or s in STATUS_TRANSITIONS[task.status] or s in keep]


def _task_edit_conflict(request: HttpRequest, task_id: str, form: TaskForm) -> HttpResponse:
    """A stale edit (409): the task as it is now next to the person's values, and the form again
    with their values on the latest version, so one click saves theirs over it."""
    latest = task_for_user(request.user, task_id)
    try:
        detail: dict[str, Any] | None = task_detail_current(latest)
    except Unavailable:  # the document server is down: compare the row's fields only
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
        **team_context(request, latest.team),
        "form": TaskForm(data, **kwargs),
        "task": latest,
        "creating": False,
        "conflicts": conflicts,
    }
    return render(request, "tasks/task_form.html", context, status=409)


@team_member_required
@require_http_methods(["GET", "POST"])
def task_edit(request: HttpRequest, task_id: str) -> HttpResponse:
    task = task_for_user(request.user, task_id)
    editable = task_can_edit(request.user, task)
    if not editable and request.method == "GET":
        raise PermissionDenied("You may not edit this task.")
    kwargs = _task_form_kwargs(task.team_id, _edit_statuses(task))
    status = 200
    if request.method == "POST":
        form = TaskForm(request.POST, **kwargs)
        status = 400
        if not editable:
            status = form_refusal(form, PermissionDenied())  # the draft stays in the form
        elif form.is_valid():
            try:
                services.task_update(
                    actor=request.user,
                    task_id=task.id,
                    expected_version=form.cleaned_data["version"] or -1,
                    **_task_fields(form),
                )
            except Conflict:
                return _task_edit_conflict(request, task_id, form)
            except (ServiceError, PermissionDenied) as exc:
                status = form_refusal(form, exc)  # the draft stays in the form
            else:
                return redirect("tasks:detail", task_id=task.id)
    else:
        detail = task_detail_current(task)
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
            **team_context(request, task.team),
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
    task = task_for_user(request.user, task_id)
    permission_require(request.user, task.team_id, "task.delete")
    if request.method == "POST":
        services.task_delete(actor=request.user, task_id=task.id)
        return redirect("tasks:board", team_id=task.team_id)
    return render(request, "tasks/task_confirm_delete.html", {"task": task, "team": task.team})


@team_member_required
@require_POST
def task_watch(request: HttpRequest, task_id: str) -> HttpResponse:
    task = task_for_user(request.user, task_id)
    watch = request.POST.get("watch") == "1"
    services.task_watch_set(actor=request.user, task_id=task.id, watch=watch)
    if request.htmx:
        return render(request, "tasks/partials/watch_button.html", {"task": task, "watching": watch})
    return redirect("tasks:detail", task_id=task.id)


def task_page_render(
    request: HttpRequest,
    task: Task,
    *,
    comment_form: CommentForm | None = None,
    attachment_form: AttachmentForm | None = None,
    status: int = 200,
) -> HttpResponse:
    """The task page; a refused comment or upload is shown again in its form, with its text."""
    user = request.user
    bundle = task_page_bundle(task)
    definitions = custom_fields_for(task.team_id)
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
        "watching": task_watched_by(task.id, user.pk),
        "task_links": task_links(user, task),
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
    task = task_for_user(request.user, task_id)
    if unread_count(request.user.pk):  # from Redis: most views have nothing to mark
        # Notifications unavailable: the page still opens, and they stay unread.
        with contextlib.suppress(Unavailable):
            services.notifications_mark_task_read(user=request.user, task_id=task.id)
    return task_page_render(request, task)


def task_page_form_refused(
    request: HttpRequest, task: Task, template: str, form_name: str, form: Any, status: int
) -> HttpResponse:
    """htmx: the form again, with its errors and the person's input; otherwise the whole task page."""
    if request.htmx:
        context = {"task": task, form_name: form, "max_upload": settings.ATTACHMENT_MAX_BYTES}
        return render(request, template, context, status=status)
    return task_page_render(request, task, **{form_name: form}, status=status)


def task_page_redirect(request: HttpRequest, task: Task, anchor: str) -> HttpResponse:
    """After a comment or an upload: the task page again. The htmx forms are on that page, so it
    is reloaded (a redirect to the same URL with only a new #fragment would not load it)."""
    if request.htmx:
        return HttpResponseClientRefresh()
    return redirect(task.get_absolute_url() + anchor)
