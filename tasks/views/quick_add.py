"""Quick add on the board: a title typed at the top of a column, then Enter (issue 19).

The task is made by the task create service in that column. An htmx request gets back the
column with the new card (out-of-band) and an announcement; a refusal gets the form back in
place with the error and the title as typed. Without JavaScript the form posts the same way
and the board is shown again (or the form with its error).
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST
from django_htmx.http import reswap, retarget, trigger_client_event

from accounts.permissions import permission_has
from taskforge.decorators import team_member_required
from taskforge.errors import ServiceError, form_refusal
from tasks import services
from tasks.forms import QuickAddForm
from tasks.models import TaskStatus
from tasks.selectors.board import board_columns, task_matches
from tasks.selectors.teams import team_for_user
from tasks.views.board import CSRF_SLOT, board_context, csrf_fill, shown_filters
from tasks.views.common import team_context
from tasks.workflow import STATUS_LABELS


@team_member_required
@require_POST
def quick_add(request: HttpRequest, team_id: int) -> HttpResponse:
    team = team_for_user(request.user, team_id)
    form = QuickAddForm(request.POST)
    status = 400
    if not permission_has(request.user, team.id, "task.create"):
        status = form_refusal(form, PermissionDenied())  # the title stays in the form
    elif form.is_valid():
        try:
            task = services.task_create(
                actor=request.user,
                team_id=team.id,
                title=form.cleaned_data["title"],
                status=form.cleaned_data["status"],
            )
        except (ServiceError, PermissionDenied) as exc:
            status = form_refusal(form, exc)
        else:
            if not request.htmx:
                return redirect("tasks:board", team_id=team.id)
            filters = shown_filters(request, team)
            columns = board_columns(team.id, statuses=[task.status], filters=filters, user=request.user)
            ctx = board_context(request, team, columns)
            message = f"Added “{task.title}” to {STATUS_LABELS[task.status]}."
            if not task_matches(task.id, filters, user=request.user):
                message += " The filters of this board hide it."
            html = render_to_string(
                "tasks/partials/move_result.html", {**ctx, "message": message, "level": "success"}, request=request
            )
            # The column came back with an empty form: the cursor goes back into it for the next title.
            response = HttpResponse(csrf_fill(request, html))
            return trigger_client_event(
                response, "tf-quick-added", {"input": f"quick-{task.status}-title"}, after="settle"
            )
    column = form.data.get("status")
    column = column if column in TaskStatus.values else TaskStatus.TODO
    errors = [str(e) for e in form.errors.get("title", [])] + [str(e) for e in form.non_field_errors()]
    if "status" in form.errors:
        errors.append("That column does not exist; reload the board.")
    ctx = {
        **team_context(request, team),
        "csrf_slot": CSRF_SLOT,
        "qa_status": column,
        "qa_label": STATUS_LABELS[column],
        "qa_value": form.data.get("title", ""),
        "qa_error": " ".join(errors),
    }
    html = csrf_fill(request, render_to_string("tasks/partials/quick_add.html", ctx, request=request))
    if request.htmx:
        return reswap(retarget(HttpResponse(html, status=status), f"#quick-{column}"), "outerHTML")
    return render(request, "tasks/quick_add.html", {**ctx, "form_html": mark_safe(html)}, status=status)  # noqa: S308 - our own rendered template
