"""The audit browser (admins only): list with filters, one entry, one record's history."""

from __future__ import annotations

import re

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from audit.forms import AuditFilterForm
from audit.schema import table_label
from audit.selectors import (
    AuditFilters,
    audit_entries,
    audit_entry_get,
    audit_history,
    chain_status,
    entry_views,
)
from taskforge.decorators import capability_required
from taskforge.params import choice_param, page_param, text_param

PAGE_SIZE = 50
_IDENT = re.compile(r"^[a-z][a-z0-9_]{0,127}$")


admin_required = capability_required("site_admin")


@require_GET
@admin_required
def browser(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET or None)
    page = None
    status = 200
    if form.is_bound and not form.is_valid():
        status = 400
    else:
        data = form.cleaned_data if form.is_bound else {}
        start, end = form.time_range() if form.is_bound else (None, None)
        filters = AuditFilters(
            table=data.get("table", ""),
            record=data.get("record", ""),
            user_id=data.get("user"),
            operation=data.get("operation", ""),
            start=start,
            end=end,
            source=data.get("source") or "live",
        )
        page = Paginator(audit_entries(filters), PAGE_SIZE).get_page(page_param(request))
        page.views = entry_views(list(page.object_list))
    query = request.GET.copy()
    query.pop("page", None)
    source = choice_param(request, "source", ("live", "archive"), "live")
    context = {"form": form, "page": page, "query": query.urlencode(), "source": source}
    if request.htmx:
        return render(request, "audit/partials/entries.html", context, status=status)
    context["chain"] = chain_status()
    return render(request, "audit/browser.html", context, status=status)


@require_GET
@admin_required
def entry(request: HttpRequest, entry_id: int) -> HttpResponse:
    source = request.GET.get("source", "live")
    if source not in ("live", "archive"):
        return render(request, "audit/bad_request.html", {"message": "source must be live or archive"}, status=400)
    row = audit_entry_get(entry_id=entry_id, source=source)
    if row is None:
        raise Http404("No such audit entry.")
    return render(request, "audit/entry.html", {"view": entry_views([row])[0], "source": source})


@require_GET
@admin_required
def history(request: HttpRequest, table: str, record_id: str) -> HttpResponse:
    also = [t for t in text_param(request, "also", max_length=2000).split(",") if t]
    tables = [table, *also]
    if not all(_IDENT.fullmatch(t) for t in tables) or len(tables) > 10 or len(record_id) > 128:
        return render(
            request, "audit/bad_request.html", {"message": "Table names must be lower-case identifiers."}, status=400
        )
    rows = audit_history(tables=tables, record_id=record_id)
    return render(
        request,
        "audit/history.html",
        {
            "views": entry_views(rows),
            "table": table,
            "table_label": table_label(table),
            "also": also,
            "also_labels": [table_label(t) for t in also],
            "record_id": record_id,
        },
    )
