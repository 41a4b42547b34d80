"""Writes of the bookings app, one module per subject:

* `trips`: the catalogue (create, edit, edit the content only (the admin), take off sale);
* `bookings`: quote, book, confirm;
* `payments`: payments (amount, method, reference) and the receipt of a booking paid in full;
* `travellers`: the travellers' names and details;
* `cancellations`: cancel, fewer travellers, refunds, cancellation on erasure.

Every function takes keyword-only arguments, runs in one transaction and queues its side
effects (outbox fast path, emails) for after the commit. Refusals raise
taskforge.errors.ServiceError (or a subclass) with a message for the person, the form field
it concerns and an HTTP status. The public functions are importable from here.
"""

from __future__ import annotations

from bookings.payloads import TripContentInput, trip_payload, trip_payload_from_state
from bookings.services.bookings import Quote, booking_confirm, booking_create, booking_quote
from bookings.services.cancellations import (
    booking_cancel,
    booking_reduce_quote,
    booking_reduce_travellers,
    bookings_cancel_for_erasure,
    cancellation_refund,
)
from bookings.services.payments import booking_record_payment
from bookings.services.travellers import TravellerDetails, booking_travellers_update
from bookings.services.trips import trip_content_edit, trip_create, trip_set_active, trip_update

__all__ = [
    "Quote",
    "TravellerDetails",
    "TripContentInput",
    "booking_cancel",
    "booking_confirm",
    "booking_create",
    "booking_quote",
    "booking_record_payment",
    "booking_reduce_quote",
    "booking_reduce_travellers",
    "booking_travellers_update",
    "bookings_cancel_for_erasure",
    "cancellation_refund",
    "trip_content_edit",
    "trip_create",
    "trip_payload",
    "trip_payload_from_state",
    "trip_set_active",
    "trip_update",
]
