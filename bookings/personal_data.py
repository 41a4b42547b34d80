"""The bookings app's part of personal-data erasure, through the registry the accounts app
owns (accounts/export.py; this module is imported by AccountsConfig.ready).

The bookings export and the scrub of cancellation reasons are still provided by
accounts/export.py (registered there as "bookings"); they move here later.
"""

from __future__ import annotations

from accounts.export import ErasureSubject, eraser_register
from bookings.services import bookings_cancel_for_erasure


def pending_bookings_erase(subject: ErasureSubject) -> dict[str, int]:
    """Pending, unpaid bookings are cancelled and their seats released, in the erasure's transaction."""
    return bookings_cancel_for_erasure(user_id=subject.user_id)


eraser_register("bookings_pending", pending_bookings_erase)
