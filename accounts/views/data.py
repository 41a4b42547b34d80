""" "Your data": downloading everything TaskForge holds about the person, and deleting the account."""

from __future__ import annotations

import json

from django.contrib.auth.decorators import login_required
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from accounts import selectors
from accounts.export import export_build
from accounts.forms import DeleteAccountForm
from accounts.services.erasure import account_erase
from taskforge.errors import ServiceError, form_refusal, refusal_headers


@login_required
@require_GET
def data_view(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/data.html", {"delete_form": DeleteAccountForm()})


@login_required
@require_GET
def data_export_view(request: HttpRequest) -> HttpResponse:
    """The download (a store that cannot be read refuses it as a whole: ExportUnavailable, 503)."""
    data = export_build(request.user)
    body = json.dumps(data, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False, default=str)
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="taskforge-my-data-{stamp}.json"'
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_http_methods(["GET", "POST"])
def account_delete_view(request: HttpRequest) -> HttpResponse:
    form = DeleteAccountForm(request.POST or None)
    context = {"last_admin_teams": selectors.teams_where_last_admin(request.user)}
    if request.method == "POST":
        if not form.is_valid():
            return render(request, "accounts/delete.html", {**context, "form": form}, status=400)
        try:
            record = account_erase(request, user=request.user, password=form.cleaned_data["password"])
        except ServiceError as exc:
            status = form_refusal(form, exc)
            return refusal_headers(
                render(request, "accounts/delete.html", {**context, "form": form}, status=status), exc
            )
        return render(request, "accounts/deleted.html", {"pseudonym": record.pseudonym})
    return render(request, "accounts/delete.html", {**context, "form": form})
