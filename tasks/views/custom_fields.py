"""A team's custom-field definitions (team admins)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.permissions import permission_require
from taskforge.decorators import team_member_required
from taskforge.errors import ServiceError, form_refusal
from tasks import services
from tasks.forms import CustomFieldForm
from tasks.selectors.teams import custom_fields_for, team_for_user
from tasks.views.common import team_context


@team_member_required
@require_http_methods(["GET", "POST"])
def custom_fields(request: HttpRequest, team_id: int) -> HttpResponse:
    team = team_for_user(request.user, team_id)
    permission_require(request.user, team.id, "team.manage")
    form = CustomFieldForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                services.custom_field_save(actor=request.user, team_id=team.id, **form.cleaned_data)
            except (ServiceError, PermissionDenied) as exc:
                status = form_refusal(form, exc)
            else:
                return redirect("tasks:custom_fields", team_id=team.id)
    return render(
        request,
        "tasks/custom_fields.html",
        {
            **team_context(request, team),
            "form": form,
            "fields": custom_fields_for(team.id),
        },
        status=status,
    )


@team_member_required
@require_http_methods(["GET", "POST"])
def custom_field_edit(request: HttpRequest, team_id: int, field_id: int) -> HttpResponse:
    team = team_for_user(request.user, team_id)
    permission_require(request.user, team.id, "team.manage")
    field = next((f for f in custom_fields_for(team.id) if f.id == field_id), None)
    if field is None:
        raise Http404("No such custom field.")
    initial = {"key": field.key, "label": field.label, "field_type": field.field_type,
               "choices": "\n".join(field.choices or []), "required": field.required}  # fmt: skip
    form = CustomFieldForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                services.custom_field_save(actor=request.user, team_id=team.id, field_id=field.id, **form.cleaned_data)
            except (ServiceError, PermissionDenied) as exc:
                status = form_refusal(form, exc)
            else:
                return redirect("tasks:custom_fields", team_id=team.id)
    return render(
        request,
        "tasks/custom_field_edit.html",
        {**team_context(request, team), "form": form, "field": field},
        status=status,
    )


@team_member_required
@require_POST
def custom_field_delete(request: HttpRequest, team_id: int, field_id: int) -> HttpResponse:
    team = team_for_user(request.user, team_id)
    services.custom_field_delete(actor=request.user, team_id=team.id, field_id=field_id)
    return redirect("tasks:custom_fields", team_id=team.id)
