"""A trip's departures (public), a traveller's bookings (their own: list, read, create with
Idempotency-Key, refund quote, cancel) and the booking desk's (list, confirm, record a
payment, cancel with a reason) — through the bookings selectors and services the booking
pages use, under the same row-level security (a traveller's connection sees only their
own bookings).

Who may do what (the site's rules): a booking is visible to its traveller and to the
booking desk, 404 to anyone else; only its traveller cancels it here (the desk sees it, so
the desk gets 403 and cancels with a reason on its own endpoint); the desk's endpoints
are 404 to people without the booking-desk capability, as its pages are.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.core.exceptions import PermissionDenied
from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import Capability
from accounts.permissions import capability_has
from api.conventions import ApiView
from api.idempotency import HEADER, IDEMPOTENCY_PARAMETER, idempotent
from api.pagination import page_size_param, paginate_list, paginate_pages
from api.permissions import Anyone, TokenScope
from api.schema import page_of
from api.serializers.bookings import (
    BookingCreateSerializer,
    BookingSerializer,
    DepartureSerializer,
    DeskBookingSerializer,
    DeskCancelSerializer,
    DeskQuerySerializer,
    PaymentSerializer,
    RefundQuoteSerializer,
)
from bookings import selectors, selectors_departures, services
from bookings.forms import StaffBookingFilterForm
from bookings.models import BookingStatus
from taskforge.errors import Conflict

# The service's idempotency key (a UUID unique per traveller) derived from the header, so a
# repeat is refused by the database too, even after the header's record has expired.
_KEY_NAMESPACE = uuid.UUID("0b6f4c1e-5a0e-4f51-9d43-3f1f0a6c2b7d")
LAST_PAGE = 1_000_000

CODE = OpenApiParameter(
    "code", str, OpenApiParameter.PATH, description="The trip's code", examples=[OpenApiExample("code", "ALP-001")]
)
BOOKING_ID = OpenApiParameter("booking_id", int, OpenApiParameter.PATH, description="The booking's id")
DEPARTURE_EXAMPLE = OpenApiExample(
    "departure",
    value={
        "id": 12,
        "date": "2027-02-01",
        "status": "open",
        "capacity": 16,
        "seats_left": 5,
        "unit_price_minor": 129900,
        "currency": "GBP",
        "bookable": True,
    },
    response_only=True,
)
BOOKING_EXAMPLE_VALUE = {
    "id": 42,
    "reference": "B000042",
    "trip_code": "ALP-001",
    "trip_name": "Alpine lakes",
    "departure_id": 12,
    "travel_date": "2027-02-01",
    "travellers": 2,
    "removed_travellers": 0,
    "unit_price_minor": 129900,
    "total_minor": 259800,
    "refund_minor": None,
    "net_minor": 259800,
    "currency": "GBP",
    "status": "pending",
    "payment_recorded": False,
    "cancel_reason": "",
    "booked_at": "2026-11-02T10:15:00Z",
    "confirmed_at": None,
    "cancelled_at": None,
}
BOOKING_EXAMPLE = OpenApiExample("booking", value=BOOKING_EXAMPLE_VALUE, response_only=True)
DESK_EXAMPLE = OpenApiExample(
    "booking (desk)",
    value={
        **BOOKING_EXAMPLE_VALUE,
        "user_id": 7,
        "traveller_email": "ada@example.com",
        "payment_reference": "",
    },
    response_only=True,
)


def _pages(request: Request, fetch: Any, serialize: Any) -> Response:
    """A cursor page of a selector that serves numbered pages of (rows, has_next)."""
    size = page_size_param(request)
    items, next_link, previous_link = paginate_pages(
        request, lambda page: fetch(page=page, per_page=size), last_page=LAST_PAGE
    )
    return Response({"results": [serialize(row) for row in items], "next": next_link, "previous": previous_link})


def _row(request: Request, booking_id: int) -> selectors.BookingRow:
    """The booking if the caller is its traveller or the booking desk; 404 otherwise."""
    row = selectors.booking_for_viewer(request.user, booking_id)
    if row is None:
        raise NotFound("No such booking.")
    return row


def _desk_only(request: Request) -> None:
    """The booking desk's endpoints do not exist for anyone else (404), as its pages."""
    if not capability_has(request.user, Capability.BOOKING_DESK):
        raise NotFound("Not found.")


def _desk_data(request: Request, booking_id: int) -> dict[str, Any]:
    return DeskBookingSerializer(DeskBookingSerializer.of(_row(request, booking_id))).data


# --- departures ------------------------------------------------------------------------------


class DepartureListView(ApiView):
    permission_classes = (Anyone, TokenScope)
    paginated = True

    @extend_schema(
        operation_id="trip_departures_list",
        summary="A trip's open departures still to come, soonest first (sold-out ones too)",
        description="Sold-out departures (`seats_left` 0) are listed too: travellers may join their waiting list "
        "on the site. A trip off sale is 404 except to catalogue editors.",
        parameters=[CODE],
        responses={200: page_of(DepartureSerializer)},
        auth=[{}, {"bearerAuth": []}],
        examples=[DEPARTURE_EXAMPLE],
        tags=["trips"],
    )
    def get(self, request: Request, code: str) -> Response:
        page = selectors.trip_page(code, viewer=request.user)  # the trip page's own visibility rule
        if page is None:
            raise NotFound("There is no trip with this code.")
        rows = selectors_departures.trip_departures(page.trip)
        return paginate_list(request, rows, lambda row: DepartureSerializer(DepartureSerializer.of(row)).data)


# --- a traveller's bookings --------------------------------------------------------------------


class BookingListView(ApiView):
    paginated = True
    extra_problem_codes = {"POST": (404, 409, 422)}

    @extend_schema(
        operation_id="bookings_list",
        summary="Your own bookings, latest travel date first",
        responses={200: page_of(BookingSerializer)},
        examples=[BOOKING_EXAMPLE],
        tags=["bookings"],
    )
    def get(self, request: Request) -> Response:
        return _pages(
            request,
            lambda page, per_page: selectors.bookings_for_traveller(request.user, page=page, per_page=per_page),
            lambda row: BookingSerializer(BookingSerializer.of(row)).data,
        )

    @extend_schema(
        operation_id="booking_create",
        summary="Book seats on one of a trip's departures",
        description="Books `travellers` seats on the trip's departure of `travel_date` for you, at the price the "
        "server computes; `expected_total_minor` must be that total (else 400 and nothing is booked). The booking "
        "is pending until the booking desk confirms it. Refusals: 404 no such trip; 400 a date that is not an open "
        "departure still to come, a wrong total or too many travellers; 409 the trip is off sale or the departure "
        "has too few seats left. Send an `Idempotency-Key`: a retry with the same key returns the first booking "
        "and never books twice.",
        parameters=[IDEMPOTENCY_PARAMETER],
        request=BookingCreateSerializer,
        responses={
            201: BookingSerializer,
            200: OpenApiResponse(BookingSerializer, description="This key already booked: the first booking"),
        },
        examples=[
            OpenApiExample(
                "book",
                value={
                    "trip_code": "ALP-001",
                    "travel_date": "2027-02-01",
                    "travellers": 2,
                    "expected_total_minor": 259800,
                },
                request_only=True,
            ),  # fmt: skip
            BOOKING_EXAMPLE,
        ],
        tags=["bookings"],
    )
    @idempotent
    def post(self, request: Request) -> Response:
        incoming = BookingCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        key = request.headers.get(HEADER)
        code = data["trip_code"].upper()
        travel_date = data.get("travel_date")
        if travel_date is None:  # the trip's next open departure, as the booking page offers first
            travel_date = services.booking_quote(trip_code=code, travel_date=None, travellers=data["travellers"])
            travel_date = travel_date.travel_date
        booking, created = services.booking_create(
            actor=request.user,
            trip_code=code,
            travel_date=travel_date,
            travellers=data["travellers"],
            idempotency_key=uuid.uuid5(_KEY_NAMESPACE, key) if key else uuid.uuid4(),
            expected_total_minor=data["expected_total_minor"],
        )
        row = _row(request, booking.pk)
        return Response(
            BookingSerializer(BookingSerializer.of(row)).data,
            status=201 if created else 200,
            headers={"Location": f"/api/v1/bookings/{booking.pk}/"},
        )


class BookingDetailView(ApiView):
    @extend_schema(
        operation_id="booking_read",
        summary="One of your bookings (any booking for the booking desk)",
        parameters=[BOOKING_ID],
        responses={200: BookingSerializer},
        examples=[BOOKING_EXAMPLE],
        tags=["bookings"],
    )
    def get(self, request: Request, booking_id: int) -> Response:
        return Response(BookingSerializer(BookingSerializer.of(_row(request, booking_id))).data)


class RefundQuoteView(ApiView):
    extra_problem_codes = {"GET": (409,)}

    @extend_schema(
        operation_id="booking_refund_quote",
        summary="What cancelling the booking today would refund",
        description="The cancellation policy (100% at 30 or more days before travel, 50% at 7 or more, else "
        "nothing) applied to the travellers still on the booking. Nothing changes. 409 for a cancelled booking.",
        parameters=[BOOKING_ID],
        responses={200: RefundQuoteSerializer},
        examples=[
            OpenApiExample(
                "quote",
                value={
                    "booking_id": 42,
                    "days_before": 45,
                    "percent": 100,
                    "refund_minor": 259800,
                    "already_refunded_minor": 0,
                    "currency": "GBP",
                    "cancellable": True,
                },
                response_only=True,
            )  # fmt: skip
        ],
        tags=["bookings"],
    )
    def get(self, request: Request, booking_id: int) -> Response:
        booking = _row(request, booking_id).booking
        if booking.status == BookingStatus.CANCELLED:
            raise Conflict("This booking is already cancelled.")
        today = timezone.localdate()
        refund = services.cancellation_refund(booking, today=today)
        return Response(
            RefundQuoteSerializer(
                {
                    "booking_id": booking.pk,
                    "days_before": refund.days_before,
                    "percent": refund.percent,
                    "refund_minor": refund.amount_minor,
                    "already_refunded_minor": booking.refund_minor or 0,
                    "currency": booking.currency,
                    "cancellable": booking.travel_date > today,
                }
            ).data
        )


class BookingCancelView(ApiView):
    extra_problem_codes = {"POST": (409,)}

    @extend_schema(
        operation_id="booking_cancel",
        summary="Cancel your booking (the refund is the policy's; see the refund quote)",
        description="Only the traveller cancels here (the booking desk gets 403 and uses its own endpoint with a "
        "reason). Seats go back on sale; you get an email. 409 if already cancelled; 400 once the trip started.",
        parameters=[BOOKING_ID],
        request=None,
        responses={200: BookingSerializer},
        examples=[BOOKING_EXAMPLE],
        tags=["bookings"],
    )
    def post(self, request: Request, booking_id: int) -> Response:
        row = _row(request, booking_id)
        if row.booking.user_id != request.user.pk:
            raise PermissionDenied("Only the traveller cancels here; the booking desk cancels with a reason.")
        services.booking_cancel(actor=request.user, booking_id=booking_id)
        return Response(BookingSerializer(BookingSerializer.of(_row(request, booking_id))).data)


# --- the booking desk --------------------------------------------------------------------------


class DeskBookingListView(ApiView):
    paginated = True
    query_serializer = DeskQuerySerializer

    @extend_schema(
        operation_id="desk_bookings_list",
        summary="Every booking, newest first, filtered (booking desk)",
        parameters=[DeskQuerySerializer],
        responses={200: page_of(DeskBookingSerializer)},
        examples=[DESK_EXAMPLE],
        tags=["booking desk"],
    )
    def get(self, request: Request) -> Response:
        _desk_only(request)
        params = {k: v for k, v in request.query_params.items() if k in DeskQuerySerializer().fields}
        form = StaffBookingFilterForm(params)
        if not form.is_valid():
            raise ValidationError({field: [str(e) for e in errors] for field, errors in form.errors.items()})
        filters = form.filters()
        return _pages(
            request,
            lambda page, per_page: selectors.bookings_for_staff(request.user, filters, page=page, per_page=per_page),
            lambda row: DeskBookingSerializer(DeskBookingSerializer.of(row)).data,
        )


def _desk_schema(operation_id: str, summary: str, description: str, **extra: Any) -> Any:
    return extend_schema(
        operation_id=operation_id,
        summary=summary,
        description=description,
        parameters=[BOOKING_ID],
        responses={200: DeskBookingSerializer},
        tags=["booking desk"],
        **extra,
    )


class DeskConfirmView(ApiView):
    extra_problem_codes = {"POST": (409,)}

    @_desk_schema(
        "desk_booking_confirm",
        "Confirm a pending booking (booking desk)",
        "The traveller is emailed. 409 unless the booking is pending.",
        request=None,
        examples=[DESK_EXAMPLE],
    )
    def post(self, request: Request, booking_id: int) -> Response:
        _desk_only(request)
        services.booking_confirm(actor=request.user, booking_id=booking_id)
        return Response(_desk_data(request, booking_id))


class DeskPaymentView(ApiView):
    extra_problem_codes = {"POST": (409,)}

    @_desk_schema(
        "desk_booking_payment",
        "Record a booking's payment reference (booking desk)",
        "Replaces the reference recorded before. 409 for a cancelled booking.",
        request=PaymentSerializer,
        examples=[OpenApiExample("payment", value={"reference": "PAY-2026-0042"}, request_only=True), DESK_EXAMPLE],
    )
    def post(self, request: Request, booking_id: int) -> Response:
        _desk_only(request)
        incoming = PaymentSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        services.booking_record_payment(
            actor=request.user,
            booking_id=booking_id,
            amount_minor=incoming.validated_data.get("amount_minor"),
            method=incoming.validated_data["method"],
            reference=incoming.validated_data["reference"],
        )
        return Response(_desk_data(request, booking_id))


class DeskCancelView(ApiView):
    extra_problem_codes = {"POST": (409,)}

    @_desk_schema(
        "desk_booking_cancel",
        "Cancel any booking with a reason (booking desk)",
        "The policy's refund, or the whole total with `full_refund` (a cancellation by the company). Seats go "
        "back on sale; the traveller is emailed. 409 if already cancelled.",
        request=DeskCancelSerializer,
        examples=[
            OpenApiExample(
                "cancel", value={"reason": "Hotel closed for repairs", "full_refund": True}, request_only=True
            ),
            DESK_EXAMPLE,
        ],
    )
    def post(self, request: Request, booking_id: int) -> Response:
        _desk_only(request)
        incoming = DeskCancelSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        services.booking_cancel(actor=request.user, booking_id=booking_id, **incoming.validated_data)
        return Response(_desk_data(request, booking_id))
