"""Row-level security of the bookings tables (bookings, payments, receipts, traveller details,
the waiting list), in one place so every model module uses the same policy."""

from __future__ import annotations

from taskforge.rls import CTX_IS_SYSTEM, CTX_USER_ID, ctx_has_capability

# Row-level security: the traveller of the row, a person with the booking-desk capability
# (looked up in the grant table; site admins hold every capability), or the system. A team
# member without the capability sees no one else's bookings. No context => no rows.
# The context reads are wrapped in scalar subqueries so PostgreSQL evaluates them once
# per statement (an InitPlan), not once per row. FOR ALL: the same expression is the
# USING clause (which rows SELECT/UPDATE/DELETE can touch) and the WITH CHECK clause
# (which rows INSERT/UPDATE may write), so traveller A cannot insert a row for B.
BOOKING_POLICY = (
    f"(SELECT {ctx_has_capability('booking_desk')}) OR (SELECT {CTX_IS_SYSTEM}) OR user_id = (SELECT {CTX_USER_ID})"
)
