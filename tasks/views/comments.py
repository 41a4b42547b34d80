"""Comments, files attached to a task, and @mention suggestions."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from taskforge.decorators import team_member_required
from taskforge.errors import ServiceError, form_refusal
from taskforge.params import text_param
from tasks import services
from tasks.attachments import attachment_path
from tasks.forms import AttachmentForm, CommentForm
from tasks.selectors.tasks import attachment_for, comment_for_change, task_for_user
from tasks.selectors.teams import team_for_user, team_members_matching
from tasks.views.task_pages import task_page_form_refused, task_page_redirect


@team_member_required
@require_POST
def attachment_upload(request: HttpRequest, task_id: str) -> HttpResponse:
    task = task_for_user(request.user, task_id)
    form = AttachmentForm(request.POST, request.FILES)
    if not form.is_valid():
        return task_page_form_refused(request, task, "tasks/partials/upload_form.html", "attachment_form", form, 400)
    try:
        meta = services.task_attachment_add(actor=request.user, task_id=task.id, upload=form.cleaned_data["file"])
    except (ServiceError, PermissionDenied) as exc:
        status = form_refusal(form, exc)
        return task_page_form_refused(request, task, "tasks/partials/upload_form.html", "attachment_form", form, status)
    messages.success(request, f"Attached {meta['name']}.")
    return task_page_redirect(request, task, "")


@team_member_required
@require_GET
def attachment_download(request: HttpRequest, task_id: str, attachment_id: str) -> HttpResponse:
    """Serve an attachment to someone who may see the task, under its original name."""
    task = task_for_user(request.user, task_id)
    meta = attachment_for(task, attachment_id)
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


@team_member_required
@require_POST
def comment_create(request: HttpRequest, task_id: str) -> HttpResponse:
    task = task_for_user(request.user, task_id)
    form = CommentForm(request.POST, request.FILES)
    if not form.is_valid():
        return task_page_form_refused(request, task, "tasks/partials/comment_form.html", "comment_form", form, 400)
    try:
        services.comment_create(
            actor=request.user, task_id=task.id, body=form.cleaned_data["body"], upload=form.cleaned_data.get("file")
        )
    except (ServiceError, PermissionDenied) as exc:
        status = form_refusal(form, exc)
        return task_page_form_refused(request, task, "tasks/partials/comment_form.html", "comment_form", form, status)
    return task_page_redirect(request, task, "#comments")


@team_member_required
@require_http_methods(["GET", "POST"])
def comment_edit(request: HttpRequest, task_id: str, comment_id: str) -> HttpResponse:
    task = task_for_user(request.user, task_id)
    if request.method == "GET":
        comment = comment_for_change(request.user, task, comment_id)
        return render(
            request,
            "tasks/comment_edit.html",
            {"task": task, "team": task.team, "comment": comment, "form": CommentForm(initial={"body": comment.body})},
        )
    form = CommentForm({"body": request.POST.get("body", "")})
    status = 400
    if form.is_valid():
        try:
            services.comment_update(
                actor=request.user, task_id=task.id, comment_id=comment_id, body=form.cleaned_data["body"]
            )
        except (ServiceError, PermissionDenied) as exc:
            status = form_refusal(form, exc)  # the text comes back with the refusal
        else:
            return redirect(task.get_absolute_url() + f"#c-{comment_id}")
    context = {"task": task, "team": task.team, "form": form}
    return render(request, "tasks/comment_edit.html", context, status=status)


@team_member_required
@require_POST
def comment_delete(request: HttpRequest, task_id: str, comment_id: str) -> HttpResponse:
    task = task_for_user(request.user, task_id)
    services.comment_delete(actor=request.user, task_id=task.id, comment_id=comment_id)
    return redirect(task.get_absolute_url() + "#comments")


@team_member_required
@require_GET
def member_autocomplete(request: HttpRequest, team_id: int) -> HttpResponse:
    """@mention suggestions: team members whose name, handle or email starts with ?q."""
    team = team_for_user(request.user, team_id)
    q = text_param(request, "q").lstrip("@").lower()[:60]
    matches = team_members_matching(team.id, q)
    return render(request, "tasks/partials/mention_suggestions.html", {"members": matches, "q": q})
