"""Report pages and CSV exports (staff), the ETL refresh button and the System page (admins).

One view per report, as NetBox's ObjectListView: it answers the full page, only the
report's region (its filters and figures) to an htmx request, or the CSV when its
`export.csv` URL routes to it with `export="csv"` (reports/urls.py). Thin: parse the
filters, call a selector, render. Anonymous visitors are sent to sign in; signed-in
people who may not see a page get 404, as everywhere on the site.
"""

from __future__ import annotations

import csv
import datetime as dt
import logging
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from functools import wraps
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from bookings.policy import money
from reports import charts, selectors
from reports.forms import RangeForm, ResortForm, RevenueForm, SeatForm, TaskFlowForm
from reports.jobs import reports_etl
from reports.selectors import StarUnavailable
from reports.selectors_departures import departure_rows, waitlist_demand_rows
from reports.system import system_figures
from taskforge.decorators import capability_required, signed_in, team_member_required
from taskforge.params import redirect_target
from taskforge.tasks_util import enqueue_on_commit

logger = logging.getLogger(__name__)
View = Callable[..., HttpResponse]
PERIODS = {"daily": "day", "monthly": "month"}
CSV = "csv"  # the `export` of the export.csv routes
CHART_DEPARTURES = 60


# The revenue, resort and seat reports belong to reports readers; the task-flow report to
# the people in a team (each sees their own teams); the index to either; the System page
# and the ETL refresh to site admins.
reader_required = capability_required("reports_reader")
admin_required = capability_required("site_admin")


def _reports_or_teams(view: View) -> View:
    @wraps(view)
    @signed_in
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not (request.user.has_capability("reports_reader") or request.user.in_a_team):  # site admins: both
            raise Http404("No such page.")
        return view(request, *args, **kwargs)

    return wrapper


# --- helpers ----------------------------------------------------------------------------------


def _major(amount_minor: int | None) -> str:
    """Minor units as a plain decimal for CSV (all supported currencies have two decimals)."""
    return f"{Decimal(int(amount_minor or 0)).scaleb(-2):.2f}"


def _cell(value: Any) -> Any:
    # Spreadsheets run text that starts with = + - @ as a formula: neutralise user text.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def csv_response(filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return response


def _csv_refusal(form: RangeForm | None = None, unavailable: str = "") -> HttpResponse:
    if unavailable:
        return HttpResponse(unavailable + "\n", status=503, content_type="text/plain; charset=utf-8")
    problems = [str(e) for errors in form.errors.values() for e in errors] if form is not None else []
    return HttpResponse(
        "Cannot export: " + " ".join(problems) + "\n", status=400, content_type="text/plain; charset=utf-8"
    )


def _render(request: HttpRequest, template: str, context: dict[str, Any], status: int = 200) -> HttpResponse:
    context.setdefault("qs", request.GET.urlencode())
    return render(request, template, context, status=status)


def _report(request: HttpRequest, name: str, context: dict[str, Any], status: int = 200) -> HttpResponse:
    """A report's page (reports/<name>.html), or only its region for htmx (reports/partials/)."""
    context.setdefault("status", _load_status())
    template = f"reports/partials/{name}.html" if request.htmx else f"reports/{name}.html"
    return _render(request, template, context, status=status)


def _refused(request: HttpRequest, name: str, export: str, context: dict[str, Any]) -> HttpResponse:
    """Filters that do not parse: a 400 with the form's messages, on the page or as text."""
    if export == CSV:
        return _csv_refusal(context["form"])
    return _report(request, name, context, status=400)


def _unavailable(
    request: HttpRequest, name: str, export: str, context: dict[str, Any], exc: StarUnavailable
) -> HttpResponse:
    """The star schema cannot be read: the page says so; the CSV is a 503 with the message."""
    if export == CSV:
        return _csv_refusal(unavailable=str(exc))
    context["unavailable"] = str(exc)
    return _report(request, name, context)


def _range_name(start: dt.date, end: dt.date) -> str:
    return f"{start.isoformat()}-to-{end.isoformat()}"


# --- index and refresh --------------------------------------------------------------------------


def _load_status() -> dict[str, Any]:
    try:
        ok, failed = selectors.etl_last_runs()
    except StarUnavailable as exc:
        return {"unavailable": str(exc)}
    return {"last_ok": ok, "last_failed": failed}


@require_GET
@_reports_or_teams
def index(request: HttpRequest) -> HttpResponse:
    return _render(request, "reports/index.html", {"status": _load_status()})


@require_POST
@admin_required
def refresh(request: HttpRequest) -> HttpResponse:
    """Queue an ETL run now (it is idempotent, and a run already going makes this one a no-op)."""

    enqueue_on_commit(reports_etl)
    logger.info("reports refresh queued by user %s", request.user.pk)
    messages.success(request, "Reports refresh queued; the figures update within a minute.")
    return redirect(redirect_target(request, reverse("reports:index")))


# --- revenue ------------------------------------------------------------------------------------


def _period(name: str) -> str:
    if name not in PERIODS:
        raise Http404("No such report.")
    return PERIODS[name]


def _bucket_label(period: str, bucket: dt.date) -> str:
    return bucket.strftime("%d %b") if period == "day" else bucket.strftime("%b %Y")


@require_GET
@reader_required
def revenue(request: HttpRequest, period_name: str, export: str = "") -> HttpResponse:
    period = _period(period_name)
    form = RevenueForm(request.GET, period=period)
    context: dict[str, Any] = {"form": form, "period": period, "period_name": period_name}
    if form.is_bound and not form.is_valid():
        return _refused(request, "revenue", export, context)
    start, end = form.range()
    context.update(start=start, end=end)
    try:
        rows = selectors.revenue_rows(period, start, end)
    except StarUnavailable as exc:
        return _unavailable(request, "revenue", export, context, exc)
    if export == CSV:
        return _revenue_csv(rows, period, period_name, start, end)
    currencies = selectors.currencies_by_revenue(rows)
    currency = form.currency_choice() or (currencies[0] if currencies else "GBP")
    series = selectors.revenue_series(rows, period, start, end, currency)
    totals: dict[str, dict[str, int]] = {}
    for row in rows:
        t = totals.setdefault(row.currency, {"bookings": 0, "cancelled": 0, "travellers": 0, "booked": 0, "revenue": 0})
        t["bookings"] += row.bookings
        t["cancelled"] += row.cancelled
        t["travellers"] += row.travellers
        t["booked"] += row.booked_minor
        t["revenue"] += row.revenue_minor
    context.update(
        rows=rows,
        currency=currency,
        totals=sorted(totals.items()),
        chart=charts.column_chart(
            [(_bucket_label(period, b), v / 100) for b, v in series],
            title=f"Revenue per {period} in {currency}",
            value_format=lambda v: money(round(v * 100), currency),
        ),
    )
    return _report(request, "revenue", context)


def _revenue_csv(rows: list[Any], period: str, period_name: str, start: dt.date, end: dt.date) -> HttpResponse:
    return csv_response(
        f"revenue-{period_name}-{_range_name(start, end)}.csv",
        [
            "date" if period == "day" else "month",
            "currency",
            "bookings",
            "cancelled",
            "travellers",
            "booked",
            "revenue",
        ],
        (
            [
                row.bucket.isoformat() if period == "day" else row.bucket.strftime("%Y-%m"),
                row.currency,
                row.bookings,
                row.cancelled,
                row.travellers,
                _major(row.booked_minor),
                _major(row.revenue_minor),
            ]
            for row in rows
        ),
    )


# --- bookings per resort -------------------------------------------------------------------------


@require_GET
@reader_required
def resorts(request: HttpRequest, export: str = "") -> HttpResponse:
    form = ResortForm(request.GET)
    context: dict[str, Any] = {"form": form}
    if form.is_bound and not form.is_valid():
        return _refused(request, "resorts", export, context)
    start, end = form.range()
    context.update(start=start, end=end)
    try:
        rows = selectors.resort_rows(start, end)
    except StarUnavailable as exc:
        return _unavailable(request, "resorts", export, context, exc)
    if export == CSV:
        return csv_response(
            f"bookings-per-resort-{_range_name(start, end)}.csv",
            ["resort", "currency", "bookings", "cancelled", "travellers", "customers", "revenue"],
            (
                [r.resort, r.currency, r.bookings, r.cancelled, r.travellers, r.customers, _major(r.revenue_minor)]
                for r in rows
            ),
        )
    context.update(
        rows=rows,
        chart=charts.bar_chart(selectors.resort_totals(rows)[:25], title="Bookings per resort", width=640),
    )
    return _report(request, "resorts", context)


# --- seat utilisation ----------------------------------------------------------------------------


@require_GET
@reader_required
def seats(request: HttpRequest, export: str = "") -> HttpResponse:
    form = SeatForm(request.GET)
    context: dict[str, Any] = {"form": form}
    if form.is_bound and not form.is_valid():
        return _refused(request, "seats", export, context)
    start, end = form.range()
    context.update(start=start, end=end)
    try:
        # The page shows the first SEATS_ROW_CAP departures; the CSV has them all.
        rows = selectors.seat_rows(start, end, limit=100_000) if export == CSV else selectors.seat_rows(start, end)
    except StarUnavailable as exc:
        return _unavailable(request, "seats", export, context, exc)
    if export == CSV:
        return _seats_csv(rows, start, end)
    try:
        departures = departure_rows(start, end)
        demand = waitlist_demand_rows(start, end)
    except StarUnavailable as exc:
        return _unavailable(request, "seats", export, context, exc)
    capacity = sum(r.capacity for r in rows)
    taken = sum(r.taken for r in rows)
    context.update(
        rows=rows,
        capped=len(rows) >= selectors.SEATS_ROW_CAP,
        overall=round(100 * taken / capacity) if capacity else None,
        capacity=capacity,
        taken=taken,
        departures=departures,
        demand=demand,
        unserved_travellers=sum(d.unserved_travellers for d in demand),
        chart_rows=min(len(rows), CHART_DEPARTURES),
        chart=charts.utilisation_chart(
            [(f"{r.departure:%d %b %Y} · {r.code}", r.taken, r.capacity) for r in rows[:CHART_DEPARTURES]],
            title="Seat utilisation per departure",
        ),
    )
    return _report(request, "seats", context)


def _seats_csv(rows: list[Any], start: dt.date, end: dt.date) -> HttpResponse:
    return csv_response(
        f"seat-utilisation-{_range_name(start, end)}.csv",
        [
            "departure",
            "trip_code",
            "trip",
            "resort",
            "capacity",
            "seats_taken",
            "confirmed_travellers",
            "pending_travellers",
            "utilisation_percent",
            "snapshot",
        ],
        (
            [
                r.departure.isoformat(),
                r.code,
                r.trip,
                r.resort,
                r.capacity,
                r.taken,
                r.confirmed,
                r.pending,
                f"{r.utilisation * 100:.1f}",
                r.snapshot.isoformat(),
            ]
            for r in rows
        ),
    )


# --- task flow ---------------------------------------------------------------------------------------


def _task_scope(request: HttpRequest, form: TaskFlowForm) -> tuple[list[tuple[int, str]], int | None]:
    """(teams the viewer may see, the chosen team). A team outside them is a 404."""
    teams = selectors.visible_teams(request.user)
    chosen = form.team_choice()
    if chosen is not None and chosen not in dict(teams):
        raise Http404("No such team.")
    return teams, chosen


def _hours(value: Decimal | None) -> str:
    return "" if value is None else f"{value:.2f}"


@require_GET
@team_member_required
def tasks(request: HttpRequest, export: str = "") -> HttpResponse:
    form = TaskFlowForm(request.GET)
    context: dict[str, Any] = {"form": form}
    if form.is_bound and not form.is_valid():
        return _refused(request, "tasks", export, context)
    teams, chosen = _task_scope(request, form)
    if export == CSV and chosen is not None:  # the CSV has the chosen team only; the page charts it among all
        teams = [(tid, name) for tid, name in teams if tid == chosen]
    start, end = form.range()
    context.update(start=start, end=end, teams=teams)
    try:
        rows = selectors.flow_rows([tid for tid, _ in teams], start, end)
    except StarUnavailable as exc:
        return _unavailable(request, "tasks", export, context, exc)
    if export == CSV:
        return _tasks_csv(rows, teams, start, end)
    totals = selectors.team_totals(rows, teams)
    # Open on the first team with something to show, not on an empty one.
    busy = [t.team_id for t in totals if t.created or t.done]
    selected = chosen or (busy[0] if busy else teams[0][0] if teams else None)
    mine = {r.week: r for r in rows if r.team_id == selected}
    week_list = selectors.weeks(start, end)
    context.update(
        totals=totals,
        selected=selected,
        selected_name=dict(teams).get(selected, ""),
        weeks=[mine[w] for w in week_list if w in mine],
    )
    if not any(r.created or r.done for r in mine.values()):
        return _report(request, "tasks", context)  # the empty state: no charts of nothing
    context.update(
        flow_chart=charts.weekly_chart(
            [(w, mine[w].created if w in mine else 0, mine[w].done if w in mine else 0) for w in week_list],
            title="Tasks created and done per week",
        ),
        cycle_chart=charts.column_chart(
            [
                (
                    w.strftime("%d %b"),
                    float(mine[w].cycle_hours_median) if w in mine and mine[w].cycle_hours_median is not None else None,
                )
                for w in week_list
            ],
            title="Median cycle time (hours) of the tasks done each week",
            value_format=lambda v: f"{v:,.1f} h",
            color=charts.PALETTE[4],
            missing="no tasks done",
        ),
    )
    return _report(request, "tasks", context)


def _tasks_csv(rows: list[Any], teams: list[tuple[int, str]], start: dt.date, end: dt.date) -> HttpResponse:
    names = dict(teams)
    return csv_response(
        f"task-flow-{_range_name(start, end)}.csv",
        ["team_id", "team", "week_start", "created", "done", "cycle_hours_avg", "cycle_hours_median"],
        (
            [
                r.team_id,
                names.get(r.team_id, ""),
                r.week.isoformat(),
                r.created,
                r.done,
                _hours(r.cycle_hours_avg),
                _hours(r.cycle_hours_median),
            ]
            for r in rows
        ),
    )


# --- System page -------------------------------------------------------------------------------------


@require_GET
@admin_required
def system(request: HttpRequest) -> HttpResponse:
    return render(request, "system/system.html", {"figures": system_figures()})
