"""Personal data: the export ("Download my data") and erasure ("Delete my account") registries.

Each app contributes what it holds about a person, so the accounts app never has to
know other apps' tables or collections.

Registering (put the calls in `<app>/personal_data.py`; accounts imports every app's
module of that name at start-up, see AccountsConfig.ready):

    from accounts.export import ErasureSubject, eraser_register, exporter_register

    def bookings_export(user) -> list[dict]:          # JSON-serialisable (datetimes are fine)
        return [...every booking of user, with its fields...]

    def bookings_erase(subject: ErasureSubject) -> dict | None:
        # Runs INSIDE the erasure transaction, before the user row is pseudonymised.
        # PostgreSQL: update/delete in place. MongoDB: record outbox events (durable),
        # or write directly only if losing the write during an outage is acceptable.
        n = Booking.objects.filter(user_id=subject.user_id).update(contact_name=subject.pseudonym, ...)
        return {"bookings": n}                         # counts, for the ErasureRecord summary

    exporter_register("bookings", bookings_export)
    eraser_register("bookings", bookings_erase)

Rules:
* an exporter that cannot read its store (document server down) raises
  ExportUnavailable: the user gets "try again later" instead of a partial export;
* an eraser must not leave the email, the names or free text written about the
  person; keep what must be kept (accounting) with personal fields set to the
  pseudonym / pseudo_email. Comments stay, shown under the pseudonym (the user's
  display_name becomes the pseudonym, so views that print the author's display name
  need nothing more; copies of the name stored elsewhere must be replaced);
* the audit log is handled here (SQL functions accounts_audit_about_user and
  accounts_audit_pseudonymise); apps do not touch it.

Exports and erasers for apps that are installed but have not registered their own
are provided below, guarded by imports, for the tables this module knows about.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models import Q
from django.utils import timezone

logger = logging.getLogger(__name__)


class ExportUnavailable(Exception):
    """A store needed for the export cannot be read right now."""


@dataclass(frozen=True)
class ErasureSubject:
    """Who is being erased: what to look for, and what to put in its place."""

    user_id: int
    email: str
    names: list[str] = field(default_factory=list)  # display name, first/last names, full names (longest first)
    pseudonym: str = ""
    pseudo_email: str = ""


Exporter = Callable[[Any], Any]
Eraser = Callable[[ErasureSubject], dict[str, int] | None]

_EXPORTERS: dict[str, Exporter] = {}
_ERASERS: dict[str, Eraser] = {}


def exporter_register(name: str, func: Exporter) -> Exporter:
    """Add (or replace) the section `name` of the personal-data export."""
    _EXPORTERS[name] = func
    return func


def eraser_register(name: str, func: Eraser) -> Eraser:
    """Add (or replace) an eraser run inside the erasure transaction."""
    _ERASERS[name] = func
    return func


def exporters() -> dict[str, Exporter]:
    return dict(_EXPORTERS)


def erasers() -> dict[str, Eraser]:
    return dict(_ERASERS)


def export_build(user: Any) -> dict[str, Any]:
    """Everything the registered apps hold about the user, as one JSON-ready dict."""
    data: dict[str, Any] = {
        "format": "taskforge-personal-data/1",
        "generated_at": timezone.now(),
        "user_id": user.pk,
    }
    for name, func in _EXPORTERS.items():
        data[name] = func(user)
    return data


def erasers_run(subject: ErasureSubject) -> dict[str, Any]:
    """Run every eraser (the outbox scrub last, after the others recorded their events)."""
    summary: dict[str, Any] = {}
    ordered = sorted(_ERASERS.items(), key=lambda item: item[0] == "outbox")
    for name, func in ordered:
        summary[name] = func(subject) or {}
    return summary


# --- the accounts app's own sections -------------------------------------------------------


def _account_export(user: Any) -> dict[str, Any]:
    return {
        "email": user.email,
        "display_name": user.display_name,
        "role": user.role,
        "email_verified": user.email_verified,
        "date_joined": user.date_joined,
        "last_login": user.last_login,
        "is_active": user.is_active,
    }


def _profile_export(user: Any) -> dict[str, Any] | None:
    from accounts.documents import profile_collection
    from taskforge.mongo import MongoUnavailable

    try:
        doc = profile_collection().find_one({"_id": user.pk})
    except MongoUnavailable:
        raise ExportUnavailable("profile") from None
    if doc is None:
        return None
    doc.pop("_id", None)
    return doc


def _memberships_export(user: Any) -> list[dict[str, Any]]:
    from accounts.models import Membership

    return [
        {"team": m.team.name, "team_slug": m.team.slug, "role": m.role, "joined_at": m.joined_at}
        for m in Membership.objects.filter(user=user).select_related("team").order_by("joined_at")
    ]


def _invitations_export(user: Any) -> dict[str, list[dict[str, Any]]]:
    from django.db.models import Q

    from accounts.models import Invitation

    def row(inv: Any) -> dict[str, Any]:
        return {
            "team": inv.team.name,
            "email": inv.email,
            "role": inv.role,
            "created_at": inv.created_at,
            "expires_at": inv.expires_at,
            "status": inv.status,
        }

    received = Invitation.objects.filter(Q(email__iexact=user.email) | Q(accepted_by=user)).select_related("team")
    sent = Invitation.objects.filter(invited_by=user).select_related("team")
    return {"received": [row(i) for i in received], "sent": [row(i) for i in sent]}


def _sessions_export(user: Any) -> list[dict[str, Any]]:
    from accounts.models import UserSession

    return list(
        UserSession.objects.filter(user=user)
        .order_by("-created_at")
        .values("browser", "user_agent", "ip", "created_at", "last_seen_at", "ended_at", "end_reason")
    )


def _sign_in_attempts_export(user: Any) -> list[dict[str, Any]]:
    from django.db.models import Q

    from accounts.models import LoginAttempt

    return list(
        LoginAttempt.objects.filter(Q(user=user) | Q(email__iexact=user.email))
        .order_by("-created_at")
        .values("email", "ip", "user_agent", "succeeded", "reason", "created_at")[:1000]
    )


def _audit_export(user: Any) -> list[dict[str, Any]]:
    """Audit rows about the user, through the SECURITY DEFINER function (RLS keeps the table admin-only)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, table_name, record_id, operation, old_values, new_values, user_id, actor_role,"
            " host(ip_address), user_agent, request_id, created_at FROM accounts_audit_about_user(%s)",
            [user.pk],
        )
        columns = [
            "id",
            "table_name",
            "record_id",
            "operation",
            "old_values",
            "new_values",
            "actor_user_id",
            "actor_role",
            "ip_address",
            "user_agent",
            "request_id",
            "created_at",
        ]
        rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    for row in rows:
        for key in ("old_values", "new_values"):
            if isinstance(row[key], str):  # Django's psycopg setup hands jsonb over as text
                row[key] = json.loads(row[key])
            if isinstance(row[key], dict):
                row[key].pop("password", None)  # a password hash is not the user's data to take away
    return rows


def _email_log_export(user: Any) -> list[dict[str, Any]]:
    try:
        from taskforge.models_ops import EmailDelivery
    except ImportError:
        return []
    from django.db.models import Q

    return list(
        EmailDelivery.objects.filter(Q(user_id=user.pk) | Q(recipient__iexact=user.email))
        .order_by("-created_at")
        .values("kind", "recipient", "subject", "status", "created_at", "sent_at")[:1000]
    )


def _email_log_erase(subject: ErasureSubject) -> dict[str, int]:
    try:
        from taskforge.models_ops import DigestItem, EmailDelivery, EmailPayload
    except ImportError:
        return {}
    from django.db.models import Q

    deliveries = EmailDelivery.objects.filter(Q(user_id=subject.user_id) | Q(recipient__iexact=subject.email))
    ids = list(deliveries.values_list("pk", flat=True))
    payloads = EmailPayload.objects.filter(delivery_id__in=ids).delete()[0]
    updated = EmailDelivery.objects.filter(pk__in=ids).update(recipient=subject.pseudo_email, subject="")
    digests = DigestItem.objects.filter(user_id=subject.user_id).delete()[0]
    return {"email_deliveries": updated, "email_payloads": payloads, "digest_items": digests}


def _accounts_erase(subject: ErasureSubject) -> dict[str, int]:
    from accounts.services import accounts_data_erase

    return accounts_data_erase(subject)


# --- sections for the bookings and tasks apps (until they register their own) --------------
#
# Reads run under an admin database context: the export is the person's right of access to
# rows that reference them, which RLS would otherwise hide once they left a team.


def _elevated() -> Any:
    from dataclasses import replace

    from taskforge.dbcontext import context_current, db_context

    return db_context(replace(context_current(), role="admin"))


def _term_patterns(subject: ErasureSubject) -> list[str]:
    import re

    terms = {t for t in [subject.email, *subject.names] if t and len(t) >= 3}
    return [re.escape(t) for t in sorted(terms, key=len, reverse=True)]


def _scrub_text(text: str, subject: ErasureSubject) -> str:
    import re

    for pattern in _term_patterns(subject):
        text = re.sub(pattern, subject.pseudonym, text, flags=re.IGNORECASE)
    return text


def _bookings_export(user: Any) -> list[dict[str, Any]] | None:
    try:
        from bookings.models import Booking
    except ImportError:
        return None
    with _elevated():
        return list(
            Booking.objects.filter(user_id=user.pk)
            .order_by("booking_date")
            .values(
                "id",
                "trip_id",
                "travel_date",
                "travellers",
                "unit_price_minor",
                "total_minor",
                "currency",
                "status",
                "payment_reference",
                "refund_minor",
                "cancel_reason",
                "booking_date",
                "confirmed_at",
                "cancelled_at",
            )
        )


def _bookings_erase(subject: ErasureSubject) -> dict[str, int]:
    """Bookings stay for accounting (they point at the pseudonymised user); free text loses the person."""
    try:
        from bookings.models import Booking
    except ImportError:
        return {}
    changed = 0
    with _elevated():
        for booking in Booking.objects.filter(user_id=subject.user_id).exclude(cancel_reason=""):
            scrubbed = _scrub_text(booking.cancel_reason, subject)
            if scrubbed != booking.cancel_reason:
                Booking.objects.filter(pk=booking.pk).update(cancel_reason=scrubbed)
                changed += 1
        kept = Booking.objects.filter(user_id=subject.user_id).count()
    return {"bookings_kept": kept, "bookings_scrubbed": changed}


def _mongo_or_unavailable(func: Callable[[], Any]) -> Any:
    from taskforge.mongo import MongoUnavailable

    try:
        return func()
    except MongoUnavailable:
        raise ExportUnavailable("document server") from None


def _tasks_export(user: Any) -> dict[str, Any] | None:
    try:
        from tasks import documents as task_documents
        from tasks.models import Task, TaskWatcher
    except ImportError:
        return None
    with _elevated():
        tasks = [
            {
                "id": str(t.id),
                "team": t.team.name,
                "title": t.title,
                "status": t.status,
                "priority": t.priority,
                "due_at": t.due_at,
                "created_at": t.created_at,
                "created_by_me": t.creator_id == user.pk,
                "assigned_to_me": t.assignee_id == user.pk,
            }
            for t in Task.objects.filter(Q(creator_id=user.pk) | Q(assignee_id=user.pk)).select_related("team")
        ]
        watched = [str(t) for t in TaskWatcher.objects.filter(user_id=user.pk).values_list("task_id", flat=True)]
    comments = _mongo_or_unavailable(
        lambda: [
            {
                "id": c["_id"],
                "task_id": c.get("task_id"),
                "body": c.get("body"),
                "created_at": c.get("created_at"),
                "edited_at": c.get("edited_at"),
                "attachments": [a.get("name") for a in c.get("attachments") or []],
            }
            for c in task_documents.comments().find({"author_id": user.pk}).sort("created_at", 1)
        ]
    )
    notifications = _mongo_or_unavailable(
        lambda: [
            {k: v for k, v in n.items() if k != "_id"} | {"id": n["_id"]}
            for n in task_documents.notifications().find({"user_id": user.pk}).sort("created_at", 1)
        ]
    )
    return {"tasks": tasks, "watching": watched, "comments": comments, "notifications": notifications}


def _tasks_erase(subject: ErasureSubject) -> dict[str, int]:
    """Own notifications go; comments stay under the pseudonym, with the person's name and
    email taken out of comment and notification texts. MongoDB must be up (else the
    whole erasure is refused, to be tried again)."""
    try:
        from tasks import documents as task_documents
        from tasks.models import TaskWatcher
    except ImportError:
        return {}
    counts = {"watching": TaskWatcher.objects.filter(user_id=subject.user_id).delete()[0]}

    def mongo() -> None:
        counts["notifications_deleted"] = (
            task_documents.notifications().delete_many({"user_id": subject.user_id}).deleted_count
        )
        counts["texts_scrubbed"] = 0
        for collection, fields in (
            (task_documents.comments(), ("body",)),
            (task_documents.notifications(), ("title", "message")),
        ):
            for pattern in _term_patterns(subject):
                query = {"$or": [{field: {"$regex": pattern, "$options": "i"}} for field in fields]}
                for doc in collection.find(query):
                    update = {f: _scrub_text(doc.get(f) or "", subject) for f in fields if doc.get(f)}
                    collection.update_one({"_id": doc["_id"]}, {"$set": update})
                    counts["texts_scrubbed"] += 1

    _mongo_or_unavailable(mongo)
    return counts


def _outbox_erase(subject: ErasureSubject) -> dict[str, int]:
    """Outbox payloads (any app) that mention the person: the same scrub as the audit log."""
    patterns = _term_patterns(subject)
    if not patterns:
        return {}
    likes = [
        "%" + t.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        for t in {subject.email, *subject.names}
        if t and len(t) >= 3
    ]
    with _elevated(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE outbox_event SET payload = accounts_jsonb_scrub(payload, %s, %s)"
            " WHERE payload::text ILIKE ANY (%s)",
            [patterns, subject.pseudonym, likes],
        )
        return {"outbox_events": cursor.rowcount}


exporter_register("account", _account_export)
exporter_register("profile", _profile_export)
exporter_register("team_memberships", _memberships_export)
exporter_register("invitations", _invitations_export)
exporter_register("sessions", _sessions_export)
exporter_register("sign_in_attempts", _sign_in_attempts_export)
exporter_register("emails", _email_log_export)
exporter_register("bookings", _bookings_export)
exporter_register("tasks", _tasks_export)
exporter_register("audit_entries", _audit_export)
eraser_register("accounts", _accounts_erase)
eraser_register("emails", _email_log_erase)
eraser_register("bookings", _bookings_erase)
eraser_register("tasks", _tasks_erase)
eraser_register("outbox", _outbox_erase)  # run last by erasers_run
