"""Authorization-matrix entries of the bookings app: trips and bookings (format:
taskforge/testing/authz.py).

The catalogue and trip pages are public; a trip taken off sale exists only for catalogue
editors. Any signed-in person may book and manage their own bookings; the booking desk
sees and handles every booking; another traveller's booking is a 404. The staff pages of
trips belong to catalogue editors and the staff pages of bookings to the booking desk:
404 for everyone else. Team roles give nothing here.

A trip's departures: catalogue editors and the booking desk see them and cancel one; only
editors add or change one (the desk: 403). A departure's waiting line is the booking desk's
(it names travellers; row-level security agrees). Any signed-in person may join a full
departure's line; an entry is its traveller's alone (404 to everyone else, the desk too).
A booking on a cancelled departure is refunded in full or moved by its owner or the desk.
"""

from __future__ import annotations

import datetime as dt
import io
import uuid
from typing import Any

from taskforge.testing.authz import Route, World, capability, everyone, only, signed_in

# The traveller's booking: its owner and the booking desk (site admins hold every capability).
OWNER_OR_DESK = ("traveller", "booking_desk", "site_admin")
# The staff pages of a trip's departures: catalogue editors and the booking desk.
DEPARTURE_STAFF = ("catalogue_editor", "booking_desk", "site_admin")


def _trip_create(actor: Any, code: str, image: Any, seats: int = 10) -> Any:
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
            seats=seats,
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
    full = _trip_create(editor, "MATRIX-FULL", trip_image_store(io.BytesIO(buffer.getvalue())), seats=2)
    moved = _trip_create(editor, "MATRIX-CXL", trip_image_store(io.BytesIO(buffer.getvalue())))
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
        **_departure_objects(world, trip, full, moved),
    }


def _departure_objects(world: World, trip: Any, full: Any, moved: Any) -> dict[str, Any]:
    """A sold-out departure with the traveller in its waiting line, and a cancelled departure
    holding a booking of the traveller (who may take a refund or move to the trip's other one)."""
    from bookings.models import Departure
    from bookings.services import departures, waitlist
    from taskforge.dbcontext import context_for_user, db_context
    from taskforge.testing.personas import person_create

    editor, traveller = world.users["catalogue_editor"], world.users["traveller"]
    # The seats of the full departure go to someone who is not an actor.
    holder = person_create("traveller", "matrix-seat-holder@example.com", None)
    with db_context(context_for_user(holder)):
        _book(holder, full, 2)
    with db_context(context_for_user(traveller)):
        entry = waitlist.waitlist_join(actor=traveller, trip_code=full.code, travel_date=full.start, travellers=1)
        on_cancelled = _book(traveller, moved, 2)
    with db_context(context_for_user(editor)):
        later = departures.departure_add(
            actor=editor, trip_code=moved.code, date=moved.start + dt.timedelta(days=30), seats=5
        )
        cancelled = departures.departure_cancel(
            actor=editor, departure_id=on_cancelled.departure_id, reason="Matrix: hotel closed"
        )
    return {
        "trip_full": full,
        "departure": Departure.objects.get(trip=trip, date=trip.start),
        "departure_full": Departure.objects.get(trip=full, date=full.start),
        "departure_cancelled": cancelled,
        "departure_later": later,
        "waitlist_traveller": entry,
        "booking_on_cancelled": on_cancelled,
    }


def _book(actor: Any, trip: Any, travellers: int) -> Any:
    from bookings import services

    booking, _ = services.booking_create(
        actor=actor,
        trip_code=trip.code,
        travel_date=trip.start,
        travellers=travellers,
        idempotency_key=uuid.uuid4(),
        expected_total_minor=trip.price_minor * travellers,
    )
    return booking


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


def _departure(name: str) -> Any:
    return lambda w: {"departure_id": w.objects[name].pk}


def _departure_edit_data(name: str) -> Any:
    def data(w: World) -> dict[str, Any]:
        pk = w.objects[name].pk
        return {f"d{pk}-seats": "10", f"d{pk}-status": "open"}

    return data


def _on_cancelled(w: World) -> dict[str, Any]:
    return {"booking_id": w.objects["booking_on_cancelled"].pk}


def _waitlist_data(trip: str) -> Any:
    return lambda w: {"travel_date": w.objects[trip].start.isoformat(), "travellers": "1"}


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
    # --- departures (staff): catalogue editors change them, the booking desk sees them -----------
    # The desk sees a trip's departures (to cancel one) but may not add or change one: 403.
    "bookings:staff_departures": [
        Route(
            kwargs=_trip,
            GET=only(200, *DEPARTURE_STAFF),
            POST=only(302, *DEPARTURE_STAFF, booking_desk=403),
            data=lambda w: {
                "date": (w.objects["trip"].start + dt.timedelta(days=30)).isoformat(),
                "seats": "5",
                "status": "open",
            },
            allow_403=True,
        ),
        Route(label="off sale", kwargs=_off_sale, GET=only(200, *DEPARTURE_STAFF)),
        Route(label="no such trip", kwargs=lambda w: {"code": "NO-SUCH-TRIP"}, GET=only(404)),
    ],
    "bookings:staff_departure_edit": [
        Route(
            kwargs=_departure("departure"),
            GET=everyone(405),
            POST=only(302, *DEPARTURE_STAFF, booking_desk=403),
            data=_departure_edit_data("departure"),
            allow_403=True,
        ),
        # A cancelled departure can no longer change.
        Route(
            label="cancelled",
            kwargs=_departure("departure_cancelled"),
            POST=only(409, *DEPARTURE_STAFF, booking_desk=403),
            data=_departure_edit_data("departure_cancelled"),
            allow_403=True,
        ),
        Route(label="no such departure", kwargs=lambda w: {"departure_id": 999_999_999}, POST=only(404)),
    ],
    "bookings:staff_departure_cancel": [
        Route(
            kwargs=_departure("departure"),
            GET=everyone(405),
            POST=only(302, *DEPARTURE_STAFF),
            data=lambda w: {"reason": "Matrix test"},
        ),
        Route(
            label="already cancelled",
            kwargs=_departure("departure_cancelled"),
            POST=only(409, *DEPARTURE_STAFF),
            data=lambda w: {"reason": "Matrix test"},
        ),
        Route(label="no reason", kwargs=_departure("departure"), POST=only(400, *DEPARTURE_STAFF)),
    ],
    # The line holds travellers' names: the booking desk only (as row-level security).
    "bookings:staff_waitlist": Route(
        kwargs=_departure("departure_full"), GET=capability("booking_desk", 200), POST=everyone(405)
    ),
    # --- the waiting list (travellers) ---------------------------------------------------------------
    # Any signed-in person may join a full departure's line, once (the traveller is in it: 409).
    "bookings:waitlist_join": [
        Route(
            kwargs=lambda w: {"code": w.objects["trip_full"].code},
            GET=everyone(405),
            POST=signed_in(302, traveller=409),
            data=_waitlist_data("trip_full"),
        ),
        # A trip off sale has no waiting list for anyone.
        Route(label="off sale", kwargs=_off_sale, POST=signed_in(404), data=_waitlist_data("trip_off_sale")),
    ],
    # The traveller's own place in line; to anyone else (the booking desk too) it does not exist.
    "bookings:waitlist_entry": [
        Route(
            kwargs=lambda w: {"entry_id": w.objects["waitlist_traveller"].pk},
            GET=only(200, "traveller"),
            POST=only(302, "traveller"),
            data=lambda w: {"action": "decline"},
        ),
        Route(
            label="accept without an offer",
            kwargs=lambda w: {"entry_id": w.objects["waitlist_traveller"].pk},
            POST=only(409, "traveller"),
            data=lambda w: {"action": "accept"},
        ),
    ],
    # --- a booking on a cancelled departure: a full refund or a move (its owner or the desk) -------
    "bookings:booking_departure_refund": [
        Route(kwargs=_on_cancelled, GET=everyone(405), POST=only(302, *OWNER_OR_DESK)),
        # The departure of this booking is not cancelled: nothing to choose.
        Route(label="departure not cancelled", kwargs=_booking, POST=only(409, *OWNER_OR_DESK)),
    ],
    "bookings:booking_departure_move": [
        Route(
            kwargs=_on_cancelled,
            GET=everyone(405),
            POST=only(302, *OWNER_OR_DESK),
            data=lambda w: {"departure": str(w.objects["departure_later"].pk)},
        ),
        Route(
            label="not offered",
            kwargs=_on_cancelled,
            POST=only(400, *OWNER_OR_DESK),
            data=lambda w: {"departure": str(w.objects["departure_cancelled"].pk)},
        ),
    ],
}
