"""The data behind each report, as JSON, through the reports' own filter forms and
selectors (reports/forms.py, reports/selectors.py): revenue, bookings per resort and seat
utilisation for reports readers; the task flow for people in a team (their own teams;
every team for site admins). As the report pages: 404 to anyone else, 503 with
Retry-After while the star schema cannot be read."""

from __future__ import annotations

from typing import Any

from django import forms
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import Capability
from accounts.permissions import capability_has
from api.conventions import ApiView
from api.serializers.reports import (
    RangeQuerySerializer,
    ResortReportSerializer,
    RevenueReportSerializer,
    SeatReportSerializer,
    TaskQuerySerializer,
    TaskReportSerializer,
)
from reports import selectors
from reports.forms import ResortForm, RevenueForm, SeatForm, TaskFlowForm
from reports.selectors import StarUnavailable
from taskforge.errors import Unavailable

PERIODS = {"daily": "day", "monthly": "month"}
STAR_RETRY_AFTER = 60
PERIOD = OpenApiParameter(
    "period_name",
    str,
    OpenApiParameter.PATH,
    enum=list(PERIODS),
    description="Per booking day (at most 366 days) or per month (at most ten years)",
)


def _reader(request: Request) -> None:
    if not capability_has(request.user, Capability.REPORTS_READER):
        raise NotFound("No such report.")


def _range(request: Request, form: forms.Form) -> tuple[Any, Any]:
    """The form's validated range; 400 with the form's own messages."""
    if form.is_bound and not form.is_valid():
        raise ValidationError(
            {("non_field_errors" if f == "__all__" else f): [str(e) for e in errs] for f, errs in form.errors.items()}
        )
    return form.range()


def _params(request: Request, names: tuple[str, ...]) -> dict[str, str]:
    return {k: v for k, v in request.query_params.items() if k in names}


def _star(read: Any) -> Any:
    try:
        return read()
    except StarUnavailable as exc:
        raise Unavailable(str(exc), retry_after=STAR_RETRY_AFTER) from None


class RevenueReportView(ApiView):
    query_serializer = RangeQuerySerializer

    @extend_schema(
        operation_id="report_revenue",
        summary="Revenue per day or month of booking, per currency (reports readers)",
        parameters=[PERIOD, RangeQuerySerializer],
        responses={200: RevenueReportSerializer},
        examples=[
            OpenApiExample(
                "monthly",
                value={
                    "period": "month",
                    "start": "2025-01-01",
                    "end": "2025-12-31",
                    "rows": [
                        {
                            "bucket": "2025-03-01",
                            "currency": "GBP",
                            "bookings": 2,
                            "cancelled": 0,
                            "travellers": 3,
                            "booked_minor": 300000,
                            "revenue_minor": 200000,
                        }
                    ],
                },
                response_only=True,
            )
        ],  # fmt: skip
        tags=["reports"],
    )
    def get(self, request: Request, period_name: str) -> Response:
        _reader(request)
        if period_name not in PERIODS:
            raise NotFound("No such report.")
        period = PERIODS[period_name]
        start, end = _range(request, RevenueForm(_params(request, ("start", "end")), period=period))
        rows = _star(lambda: selectors.revenue_rows(period, start, end))
        data = {"period": period, "start": start, "end": end, "rows": rows}
        return Response(RevenueReportSerializer(data).data)


class ResortReportView(ApiView):
    extra_problem_codes = {"GET": (404,)}  # not a reader of this report
    query_serializer = RangeQuerySerializer

    @extend_schema(
        operation_id="report_resorts",
        summary="Bookings per resort and currency, most first (reports readers)",
        parameters=[RangeQuerySerializer],
        responses={200: ResortReportSerializer},
        tags=["reports"],
    )
    def get(self, request: Request) -> Response:
        _reader(request)
        start, end = _range(request, ResortForm(_params(request, ("start", "end"))))
        rows = _star(lambda: selectors.resort_rows(start, end))
        return Response(ResortReportSerializer({"start": start, "end": end, "rows": rows}).data)


class SeatReportView(ApiView):
    extra_problem_codes = {"GET": (404,)}  # not a reader of this report
    query_serializer = RangeQuerySerializer

    @extend_schema(
        operation_id="report_seats",
        summary="Seat utilisation per departure, from the latest snapshot (reports readers)",
        parameters=[RangeQuerySerializer],
        responses={200: SeatReportSerializer},
        tags=["reports"],
    )
    def get(self, request: Request) -> Response:
        _reader(request)
        start, end = _range(request, SeatForm(_params(request, ("start", "end"))))
        rows = _star(lambda: selectors.seat_rows(start, end))
        data = {
            "start": start,
            "end": end,
            "capped": len(rows) >= selectors.SEATS_ROW_CAP,
            "rows": rows,
        }
        return Response(SeatReportSerializer(data).data)


class TaskReportView(ApiView):
    extra_problem_codes = {"GET": (404,)}  # not a reader of this report
    query_serializer = TaskQuerySerializer

    @extend_schema(
        operation_id="report_tasks",
        summary="Tasks created and done, and cycle times, per team and week (your teams)",
        description="People in a team see the teams where they may view tasks; site admins every team. `team` "
        "narrows the weeks to one of them (404 for another).",
        parameters=[TaskQuerySerializer],
        responses={200: TaskReportSerializer},
        tags=["reports"],
    )
    def get(self, request: Request) -> Response:
        user = request.user
        if not (user.in_a_team or user.is_site_admin):
            raise NotFound("No such report.")
        form = TaskFlowForm(_params(request, ("start", "end", "team")))
        start, end = _range(request, form)
        teams = selectors.visible_teams(user)
        chosen = form.team_choice()
        if chosen is not None:
            if chosen not in dict(teams):
                raise NotFound("No such team.")
            teams = [(tid, name) for tid, name in teams if tid == chosen]
        rows = _star(lambda: selectors.flow_rows([tid for tid, _ in teams], start, end))
        data = {
            "start": start,
            "end": end,
            "teams": selectors.team_totals(rows, teams),
            "weeks": rows,
        }
        return Response(TaskReportSerializer(data).data)
