"""Authorization-matrix entries of the bookings app: trips and bookings (format: audit/authz.py).

The catalogue and trip pages are public. Bookings belong to their traveller; staff (any
team) and site admins handle every booking. Staff pages answer 404 to travellers, and
another traveller's booking is a 404. Booking is for traveller accounts: staff and
admins get the trip's refusal page (403: the trip itself is public, nothing is revealed).
"""

from __future__ import annotations

import datetime as dt
import io
import uuid
from typing import Any

from audit.authz import Route, World, everyone, statuses

LOGIN = 302


def _staff(ok: int, *, anon: int = LOGIN) -> dict[str, int]:
    """Staff pages: any staff member or admin; travellers 404."""
    return statuses(anon=anon, traveller_a=404, traveller_b=404, staff_x=ok, staff_y=ok, admin=ok)


def _owner_or_staff(ok: int) -> dict[str, int]:
    """Traveller A's booking: A and staff; traveller B gets 404."""
    return statuses(anon=LOGIN, traveller_a=ok, traveller_b=404, staff_x=ok, staff_y=ok, admin=ok)


def make_objects(world: World) -> dict[str, Any]:
    from django.utils import timezone
    from PIL import Image

    from bookings import services
    from bookings.images import trip_image_store
    from taskforge.dbcontext import DbContext, db_context
    from taskforge.outbox import relay_sweep

    staff_x, traveller_a = world.users["staff_x"], world.users["traveller_a"]
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (40, 120, 200)).save(buffer, format="PNG")
    image = trip_image_store(io.BytesIO(buffer.getvalue()))
    start = timezone.localdate() + dt.timedelta(days=60)
    with db_context(DbContext(user_id=str(staff_x.pk), role="user")):
        trip = services.trip_create(
            actor=staff_x,
            code="MATRIX-1",
            content=services.TripContent(
                name="Matrix trip",
                resort="Crete",
                description_md="A **fine** trip.",
                keywords=["beach"],
                itinerary=[{"day": 1, "title": "Arrive", "details": "Dinner"}],
            ),
            start=start,
            length_days=7,
            price_minor=100_000,
            currency="GBP",
            seats=10,
            image=image,
        )
    relay_sweep()  # the trip's document and catalogue projection
    with db_context(DbContext(user_id=str(traveller_a.pk), role="user")):
        booking, _ = services.booking_create(
            actor=traveller_a,
            trip_code=trip.code,
            travel_date=trip.start,
            travellers=2,
            idempotency_key=uuid.uuid4(),
            expected_total_minor=trip.price_minor * 2,
        )
    return {"trip": trip, "trip_image": image.image.rsplit("/", 1)[-1], "booking_a": booking}


def _trip(w: World) -> dict[str, Any]:
    return {"code": w.objects["trip"].code}


def _booking(w: World) -> dict[str, Any]:
    return {"booking_id": w.objects["booking_a"].pk}


MATRIX: dict[str, Route] = {
    # --- public catalogue ---------------------------------------------------------------------
    "bookings:catalogue": Route(GET=everyone(200), POST=everyone(405)),
    "bookings:trip_image": Route(kwargs=lambda w: {"name": w.objects["trip_image"]}, GET=everyone(200)),
    "bookings:trip_detail": Route(kwargs=_trip, GET=everyone(200), POST=everyone(405)),
    "bookings:trip_quote": Route(kwargs=_trip, query=lambda w: {"travellers": "2"}, GET=everyone(200)),
    "bookings:trip_book": Route(
        kwargs=_trip,
        GET=statuses(anon=LOGIN, traveller_a=200, traveller_b=200, staff_x=403, staff_y=403, admin=403),
        # Without step=confirm the POST shows the review page (nothing is booked).
        POST=statuses(anon=LOGIN, traveller_a=200, traveller_b=200, staff_x=403, staff_y=403, admin=403),
        data=lambda w: {
            "travel_date": w.objects["trip"].start.isoformat(),
            "travellers": "1",
            "idempotency_key": "6f1f5c9e-51c4-4c8e-9d53-8d1c7a0b7e11",
        },
        allow_403=True,  # role refusal on a public trip, not someone else's object
    ),
    # --- staff trip pages -----------------------------------------------------------------------
    "bookings:staff_trips": Route(GET=_staff(200)),
    "bookings:staff_trip_new": Route(GET=_staff(200), POST=_staff(400)),  # empty form
    "bookings:staff_trip_edit": Route(kwargs=_trip, GET=_staff(200), POST=_staff(400)),  # empty form
    "bookings:staff_trip_active": Route(
        kwargs=_trip, GET=everyone(405), POST=_staff(302), data=lambda w: {"active": "0"}
    ),
    # --- bookings -----------------------------------------------------------------------------------
    "bookings:my_bookings": Route(
        GET=statuses(anon=LOGIN, traveller_a=200, traveller_b=200, staff_x=200, staff_y=200, admin=200)
    ),
    "bookings:staff_bookings": Route(GET=_staff(200)),
    "bookings:booking_detail": Route(kwargs=_booking, GET=_owner_or_staff(200), POST=everyone(405)),
    # Only the traveller cancels from this page (staff use staff-cancel with a reason).
    "bookings:booking_cancel": Route(
        kwargs=_booking,
        GET=statuses(anon=LOGIN, traveller_a=200, traveller_b=404, staff_x=404, staff_y=404, admin=404),
        POST=statuses(anon=LOGIN, traveller_a=302, traveller_b=404, staff_x=404, staff_y=404, admin=404),
    ),
    "bookings:booking_reduce": Route(
        kwargs=_booking,
        GET=_owner_or_staff(200),
        POST=_owner_or_staff(302),
        data=lambda w: {"travellers": "1"},
    ),
    "bookings:staff_confirm": Route(kwargs=_booking, GET=everyone(405), POST=_staff(302)),
    "bookings:staff_payment": Route(
        kwargs=_booking, GET=everyone(405), POST=_staff(302), data=lambda w: {"reference": "PAY-MATRIX-1"}
    ),
    "bookings:staff_cancel": Route(
        kwargs=_booking, GET=everyone(405), POST=_staff(302), data=lambda w: {"reason": "Matrix test"}
    ),
}
