"""Authorization-matrix entries of the bookings app: trips and bookings (format:
taskforge/testing/authz.py).

The catalogue and trip pages are public; a trip taken off sale exists only for catalogue
editors. Any signed-in person may book and manage their own bookings; the booking desk
sees and handles every booking; another traveller's booking is a 404. The staff pages of
trips belong to catalogue editors and the staff pages of bookings to the booking desk:
404 for everyone else. Team roles give nothing here.
"""

from __future__ import annotations

import datetime as dt
import io
import uuid
from typing import Any

from taskforge.testing.authz import Route, World, capability, everyone, only, signed_in

# The traveller's booking: its owner and the booking desk (site admins hold every capability).
OWNER_OR_DESK = ("traveller", "booking_desk", "site_admin")


def _trip_create(actor: Any, code: str, image: Any) -> Any:
    from django.utils import timezone

    from bookings import services
    from taskforge.dbcontext import context_for_user, db_context

    with db_context(context_for_user(actor)):
        return services.trip_create(
            actor=actor,
            code=code,
            content=services.TripContentInput(
                name=f"Matrix trip {code}",
                resort="Crete",
                description_md="A **fine** trip.",
                keywords=["beach"],
                itinerary=[{"day": 1, "title": "Arrive", "details": "Dinner"}],
            ),
            start=timezone.localdate() + dt.timedelta(days=60),
            length_days=7,
            price_minor=100_000,
            currency="GBP",
            seats=10,
            image=image,
        )


def make_objects(world: World) -> dict[str, Any]:
    from PIL import Image

    from bookings import selectors, services
    from bookings.images import trip_image_store
    from sync.relay import relay_sweep
    from taskforge.dbcontext import context_for_user, db_context

    editor, traveller = world.users["catalogue_editor"], world.users["traveller"]
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (40, 120, 200)).save(buffer, format="PNG")
    image = trip_image_store(io.BytesIO(buffer.getvalue()))
    trip = _trip_create(editor, "MATRIX-1", image)
    off_sale = _trip_create(editor, "MATRIX-OFF", trip_image_store(io.BytesIO(buffer.getvalue())))
    relay_sweep()  # the trips' documents and catalogue projection
    with db_context(context_for_user(editor)):
        services.trip_set_active(
            actor=editor, trip_code=off_sale.code, active=False, current_state=selectors.trip_state(off_sale)
        )
    relay_sweep()
    with db_context(context_for_user(traveller)):
        booking, _ = services.booking_create(
            actor=traveller,
            trip_code=trip.code,
            travel_date=trip.start,
            travellers=2,
            idempotency_key=uuid.uuid4(),
            expected_total_minor=trip.price_minor * 2,
        )
        paid, _ = services.booking_create(
            actor=traveller,
            trip_code=trip.code,
            travel_date=trip.start,
            travellers=1,
            idempotency_key=uuid.uuid4(),
            expected_total_minor=trip.price_minor,
        )
    desk = world.users["booking_desk"]
    with db_context(context_for_user(desk)):  # paid in full: it has a receipt
        services.booking_record_payment(
            actor=desk, booking_id=paid.pk, amount_minor=trip.price_minor, method="card", reference="PAY-MATRIX-0"
        )
    return {
        "booking_paid": paid,
        "trip": trip,
        "trip_off_sale": off_sale,
        "trip_image": image.image.rsplit("/", 1)[-1],
        "booking_traveller": booking,
    }


def _trip(w: World) -> dict[str, Any]:
    return {"code": w.objects["trip"].code}


def _off_sale(w: World) -> dict[str, Any]:
    return {"code": w.objects["trip_off_sale"].code}


def _booking(w: World) -> dict[str, Any]:
    return {"booking_id": w.objects["booking_traveller"].pk}


def _paid(w: World) -> dict[str, Any]:
    return {"booking_id": w.objects["booking_paid"].pk}


def _travellers_data(w: World) -> dict[str, Any]:
    data = {"t-TOTAL_FORMS": "2", "t-INITIAL_FORMS": "0", "t-MIN_NUM_FORMS": "2", "t-MAX_NUM_FORMS": "2"}
    for i, name in enumerate(("Ada Lovelace", "Charles Babbage")):
        data.update({f"t-{i}-full_name": name, f"t-{i}-date_of_birth": "1990-05-0" + str(i + 1)})
    return data


def _book_data(w: World) -> dict[str, Any]:
    return {
        "travel_date": w.objects["trip"].start.isoformat(),
        "travellers": "1",
        "idempotency_key": "6f1f5c9e-51c4-4c8e-9d53-8d1c7a0b7e11",
    }


MATRIX: dict[str, Route | list[Route]] = {
    # --- public catalogue ---------------------------------------------------------------------
    "bookings:catalogue": Route(GET=everyone(200), POST=everyone(405)),
    "bookings:trip_image": Route(kwargs=lambda w: {"name": w.objects["trip_image"]}, GET=everyone(200)),
    "bookings:trip_detail": [
        Route(kwargs=_trip, GET=everyone(200), POST=everyone(405)),
        # Off sale: only catalogue editors see it; for everyone else it does not exist.
        Route(label="off sale", kwargs=_off_sale, GET=capability("catalogue_editor", 200, anon=404)),
    ],
    "bookings:trip_quote": [
        Route(kwargs=_trip, query=lambda w: {"travellers": "2"}, GET=everyone(200)),
        # A trip that was on sale is no secret: its quote says it is not on sale any more.
        Route(label="off sale", kwargs=_off_sale, query=lambda w: {"travellers": "2"}, GET=everyone(400)),
    ],
    # Any signed-in person may book. Without step=confirm the POST shows the review page
    # (nothing is booked).
    "bookings:trip_book": [
        Route(kwargs=_trip, GET=signed_in(200), POST=signed_in(200), data=_book_data),
        # Off sale: "no longer on sale" (409) for anyone who still has the booking page open,
        # although the trip's own page is a 404 to all but catalogue editors (see above).
        Route(label="off sale", kwargs=_off_sale, GET=signed_in(409), POST=signed_in(409), data=_book_data),
    ],
    # --- staff trip pages: catalogue editors ----------------------------------------------------
    "bookings:staff_trips": Route(GET=capability("catalogue_editor", 200)),
    "bookings:staff_trip_new": Route(
        GET=capability("catalogue_editor", 200), POST=capability("catalogue_editor", 400)
    ),  # empty form
    "bookings:staff_trip_edit": [
        Route(kwargs=_trip, GET=capability("catalogue_editor", 200), POST=capability("catalogue_editor", 400)),
        Route(label="off sale", kwargs=_off_sale, GET=capability("catalogue_editor", 200)),
    ],
    "bookings:staff_trip_active": [
        Route(
            kwargs=_trip, GET=everyone(405), POST=capability("catalogue_editor", 302), data=lambda w: {"active": "0"}
        ),
        Route(
            label="off sale", kwargs=_off_sale, POST=capability("catalogue_editor", 302), data=lambda w: {"active": "1"}
        ),
    ],
    # --- bookings -----------------------------------------------------------------------------------
    "bookings:my_bookings": Route(GET=signed_in(200)),
    "bookings:staff_bookings": Route(GET=capability("booking_desk", 200)),
    "bookings:booking_detail": Route(kwargs=_booking, GET=only(200, *OWNER_OR_DESK), POST=everyone(405)),
    # The traveller's own cancellation page. The booking desk sees the booking but cancels
    # with a reason on the staff action (403 here); to anyone else the booking does not exist.
    "bookings:booking_cancel": Route(
        kwargs=_booking,
        GET=only(200, "traveller", booking_desk=403, site_admin=403),
        POST=only(302, "traveller", booking_desk=403, site_admin=403),
        allow_403=True,
    ),
    "bookings:booking_reduce": Route(
        kwargs=_booking,
        GET=only(200, *OWNER_OR_DESK),
        POST=only(302, *OWNER_OR_DESK),
        data=lambda w: {"travellers": "1"},
    ),
    # Travellers' names and details: the owner and the booking desk, until the deadline.
    "bookings:booking_travellers": Route(
        kwargs=_booking, GET=only(200, *OWNER_OR_DESK), POST=only(302, *OWNER_OR_DESK), data=_travellers_data
    ),
    # The receipt: only once paid in full (before that a 404 for everyone), then the owner and the desk.
    "bookings:booking_receipt": [
        Route(kwargs=_paid, GET=only(200, *OWNER_OR_DESK), POST=everyone(405)),
        Route(label="unpaid", kwargs=_booking, GET=only(404)),
    ],
    # --- staff booking actions: the booking desk ------------------------------------------------------
    "bookings:staff_confirm": Route(kwargs=_booking, GET=everyone(405), POST=capability("booking_desk", 302)),
    "bookings:staff_payment": Route(
        kwargs=_booking,
        GET=everyone(405),
        POST=capability("booking_desk", 302),
        data=lambda w: {"amount": "1.00", "method": "card", "reference": "PAY-MATRIX-1"},
    ),
    "bookings:staff_cancel": Route(
        kwargs=_booking,
        GET=everyone(405),
        POST=capability("booking_desk", 302),
        data=lambda w: {"reason": "Matrix test"},
    ),
}
