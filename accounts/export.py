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
* an exporter returns what is ABOUT the person (their rows, their documents), never
  other people's data they merely touched, and reads under the person's own database
  context (see `elevated_read` for the one narrow exception);
* an eraser finds the person's data BY ID (user_id, author_id, ... = subject.user_id),
  never by searching other people's rows for the person's email or names: names are
  self-chosen ("Confirmed", "Ops") and occur in other people's data. Inside a row or
  document found by id, it may replace the person's names and email (see `scrub_text`);
  keep what must be kept (accounting) with personal fields set to the pseudonym /
  pseudo_email. Comments stay, shown under the pseudonym (the user's display_name
  becomes the pseudonym, so views that print the author's display name need nothing
  more; copies of the name stored in the person's own documents must be replaced);
* an eraser runs inside the PostgreSQL transaction: MongoDB is written only after the
  commit, through an outbox event (reads to plan the change are fine), so a rolled-back
  erasure leaves MongoDB untouched and an outage delays the change instead of losing it;
* the audit log is handled here (SQL functions accounts_audit_about_user and
  accounts_audit_pseudonymise); apps do not touch it.

Helpers for the apps' modules: `scrub_text` (names and email out of a text found by id),
`elevated_read`, `mongo_or_unavailable` (a document-server outage becomes
ExportUnavailable) and ERASURE_AGGREGATE (the outbox events that carry an eraser's
already-scrubbed document changes; the outbox scrub leaves them alone).

This module holds the registry and the sections of the accounts app (account, profile,
memberships, invitations, sessions, sign-in attempts, audit entries, and the email log of
the mail app, which sits below accounts and cannot register itself); bookings and tasks
register theirs in bookings/personal_data.py and tasks/personal_data.py.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import Invitation, LoginAttempt, Membership, User, UserSession
from accounts.redisutil import RedisUnavailable, redis_client, rkey
from accounts.selectors import preferences_as_dict, profile_document
from mail.models import DigestItem, EmailDelivery, EmailPayload
from sync.models import OutboxEvent
from taskforge.dbcontext import context_current, db_context
from taskforge.errors import Unavailable
from taskforge.mongo import DocumentStoreUnavailable, document_store

logger = logging.getLogger(__name__)


class ExportUnavailable(Unavailable):
    """A store needed for the export (or an erasure) cannot be read right now: the person is
    told to try again (503) instead of getting a partial export."""

    def __init__(self, store: str) -> None:
        super().__init__("Part of your data cannot be read right now. Please try the download again in a few minutes.")
        self.store = store


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
        "site_capabilities": sorted(user.capabilities),
        "email_verified": user.email_verified,
        "date_joined": user.date_joined,
        "last_login": user.last_login,
        "is_active": user.is_active,
    }


def _profile_export(user: Any) -> dict[str, Any] | None:
    try:
        doc = profile_document(user.pk)
    except DocumentStoreUnavailable:
        raise ExportUnavailable("profile") from None
    if doc is None:
        return None
    return {
        "version": doc.version,
        "first_name": doc.first_name,
        "last_name": doc.last_name,
        "bio": doc.bio,
        "avatar": doc.avatar,
        "preferences": preferences_as_dict(doc.preferences),
        "updated_at": doc.updated_at,
        "deleted": doc.deleted,
    }


def _memberships_export(user: Any) -> list[dict[str, Any]]:
    return [
        {"team": m.team.name, "team_slug": m.team.slug, "role": m.role, "joined_at": m.joined_at}
        for m in Membership.objects.filter(user=user).select_related("team").order_by("joined_at")
    ]


def _invitations_export(user: Any) -> dict[str, list[dict[str, Any]]]:
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
    return list(
        UserSession.objects.filter(user=user)
        .order_by("-created_at")
        .values("browser", "user_agent", "ip", "created_at", "last_seen_at", "ended_at", "end_reason")
    )


def _sign_in_attempts_export(user: Any) -> list[dict[str, Any]]:
    return list(
        LoginAttempt.objects.filter(Q(user=user) | Q(email__iexact=user.email))
        .order_by("-created_at")
        .values("email", "ip", "user_agent", "succeeded", "reason", "created_at")[:1000]
    )


def _audit_export(user: Any) -> list[dict[str, Any]]:
    """Audit rows about the user, through the SECURITY DEFINER function (RLS keeps the table admin-only).

    Rows ABOUT the person (their account, profile, and rows whose subject column is them:
    their bookings, memberships, comments, ...) come with their values; rows they only
    acted on (someone else's booking they edited) are metadata only: table, record id,
    operation, time, and their own request's address and browser. Another actor's id,
    address, browser and request id are never included (accounts migration 0005).
    """
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
    return list(
        EmailDelivery.objects.filter(Q(user_id=user.pk) | Q(recipient__iexact=user.email))
        .order_by("-created_at")
        .values("kind", "recipient", "subject", "status", "created_at", "sent_at")[:1000]
    )


def _email_log_erase(subject: ErasureSubject) -> dict[str, int]:
    deliveries = EmailDelivery.objects.filter(Q(user_id=subject.user_id) | Q(recipient__iexact=subject.email))
    ids = list(deliveries.values_list("pk", flat=True))
    payloads = EmailPayload.objects.filter(delivery_id__in=ids).delete()[0]
    updated = EmailDelivery.objects.filter(pk__in=ids).update(recipient=subject.pseudo_email, subject="")
    digests = DigestItem.objects.filter(user_id=subject.user_id).delete()[0]
    return {"email_deliveries": updated, "email_payloads": payloads, "digest_items": digests}


def _accounts_erase(subject: ErasureSubject) -> dict[str, int]:
    """Memberships and sessions go; invitations and sign-in attempts stay without the person."""
    counts: dict[str, int] = {}
    counts["memberships"] = Membership.objects.filter(user_id=subject.user_id).delete()[0]
    now = timezone.now()
    counts["invitations"] = Invitation.objects.filter(email__iexact=subject.email).update(
        email=subject.pseudo_email, revoked_at=now
    )
    counts["sign_in_attempts"] = LoginAttempt.objects.filter(
        Q(user_id=subject.user_id) | Q(email__iexact=subject.email)
    ).update(email=subject.pseudo_email, ip=None, user_agent="")
    digests = list(UserSession.objects.filter(user_id=subject.user_id).values_list("sid_hash", flat=True))
    counts["sessions"] = UserSession.objects.filter(user_id=subject.user_id).delete()[0]

    def _forget_index() -> None:
        try:
            redis_client().delete(rkey(f"user:sessions:{subject.user_id}"))
        except RedisUnavailable:
            pass

    if digests:
        transaction.on_commit(_forget_index)
    # Django admin history names the object by its str(): the email or name.
    counts["admin_log"] = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(User), object_id=str(subject.user_id)
    ).update(object_repr=subject.pseudonym, change_message="")
    return counts


# --- helpers for the apps' exporters and erasers ---------------------------------------------
#
# Reads and writes run under the person's own database context: RLS already lets a
# traveller read and update their own bookings, and staff all bookings. The one exception
# is the task export (see elevated_read).

# Outbox events an eraser records for its changes to documents (ids and already-scrubbed
# texts, nothing personal): the outbox scrub below leaves them alone. The app that records
# them registers their applier (tasks/personal_data.py).
ERASURE_AGGREGATE = "personal_data_erasure"

# Keys of an outbox payload that hold a person's id: a payload with one of them equal to
# the person's id is theirs to scrub (mirrors PERSON_REF_KEYS of accounts migration 0005).
PERSON_REF_KEYS = (
    "user_id",
    "created_by_id",
    "creator_id",
    "assignee_id",
    "author_id",
    "invited_by_id",
    "accepted_by_id",
    "owner_id",
    "traveller_id",
    "customer_id",
    "booked_by_id",
    "actor_id",
    "recipient_id",
    "uploaded_by_id",
)
EMAIL_KEYS = ("email", "recipient", "contact_email", "user_email")
NAME_KEYS = ("display_name", "first_name", "last_name", "full_name", "contact_name", "author_name", "actor_name")
TEXT_KEYS = ("body", "bio", "message", "cancel_reason")


@contextmanager
def elevated_read() -> Iterator[None]:
    """Read rows that reference the signed-in person but that RLS hides from them, such as
    tasks of a team they have left (the tasks policy shows a team's tasks to its members only).

    Why this is safe: the context keeps the person's user id and switches only the role to
    "admin" for the block; the block is a savepoint set READ ONLY in the database, so any
    INSERT, UPDATE or DELETE inside fails (no row, and no audit row with a borrowed role, can
    be written), and the savepoint is rolled back at the end, which also undoes the READ
    ONLY setting. Callers pass fixed queries filtered by the person's own id, taken from the
    signed-in user, never from input; everything read must be materialised inside the block.
    """
    with transaction.atomic():
        try:
            with db_context(replace(context_current(), role="system")):
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL transaction_read_only = on")
                yield
        finally:
            # After the context is restored (a block marked for rollback runs no more queries).
            transaction.set_rollback(True)


def _term_patterns(subject: ErasureSubject) -> list[re.Pattern[str]]:
    """The person's email and names as whole-word, case-insensitive patterns, longest first."""
    terms = {t.strip() for t in [subject.email, *subject.names] if t and len(t.strip()) >= 3}
    return [
        re.compile(r"(?<![\w])" + re.escape(t) + r"(?![\w])", re.IGNORECASE)
        for t in sorted(terms, key=len, reverse=True)
    ]


def scrub_text(text: str, subject: ErasureSubject) -> str:
    """Replace the person's email and names (whole words) in a text that is theirs or about them.

    Only for rows and documents found by the person's id: in anyone else's text the same
    words may mean something else ("Confirmed Ops").
    """
    for pattern in _term_patterns(subject):
        text = pattern.sub(lambda _match: subject.pseudonym, text)  # the pseudonym is literal text
    return text


def _scrub_payload(payload: dict[str, Any], subject: ErasureSubject) -> dict[str, Any]:
    """Identity fields holding the person's own email or name, and their names in free text."""
    emails = {subject.email.strip().lower()}
    names = {n.strip().lower() for n in subject.names if n.strip()}
    out = dict(payload)
    for key, value in payload.items():
        if not isinstance(value, str):
            continue
        if key in EMAIL_KEYS and value.strip().lower() in emails:
            out[key] = subject.pseudo_email
        elif key in NAME_KEYS and value.strip().lower() in names:
            out[key] = subject.pseudonym
        elif key in TEXT_KEYS:
            out[key] = scrub_text(value, subject)
    return out


def mongo_or_unavailable(func: Callable[[], Any]) -> Any:
    """Run a read of the document server; its outage becomes ExportUnavailable (the export or
    erasure is refused as a whole, to be tried again, rather than half done). `func` must
    evaluate its querysets (list(), count(), ...): a lazy one would fail later, outside."""
    try:
        with document_store():
            return func()
    except DocumentStoreUnavailable:
        raise ExportUnavailable("document server") from None


def _outbox_erase(subject: ErasureSubject) -> dict[str, int]:
    """Outbox payloads (any app) that hold the person's id in a person-reference key: their
    identity fields and their names in free text. Found by id, never by searching every
    payload for the name. (The person's own profile events are emptied by account_erase.)"""
    changed = 0
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM outbox_event WHERE NOT (aggregate_type = 'profile' AND aggregate_id = %s)"
            " AND aggregate_type <> %s"
            " AND EXISTS (SELECT 1 FROM unnest(%s::text[]) AS k WHERE payload ->> k = %s)",
            [str(subject.user_id), ERASURE_AGGREGATE, list(PERSON_REF_KEYS), str(subject.user_id)],
        )
        ids = [row[0] for row in cursor.fetchall()]
    for event in OutboxEvent.objects.filter(pk__in=ids).only("pk", "payload"):
        payload = event.payload if isinstance(event.payload, dict) else {}
        scrubbed = _scrub_payload(payload, subject)
        if scrubbed != payload:
            OutboxEvent.objects.filter(pk=event.pk).update(payload=scrubbed)
            changed += 1
    return {"outbox_events": changed}


exporter_register("account", _account_export)
exporter_register("profile", _profile_export)
exporter_register("team_memberships", _memberships_export)
exporter_register("invitations", _invitations_export)
exporter_register("sessions", _sessions_export)
exporter_register("sign_in_attempts", _sign_in_attempts_export)
exporter_register("emails", _email_log_export)
exporter_register("audit_entries", _audit_export)
eraser_register("accounts", _accounts_erase)
eraser_register("emails", _email_log_erase)
eraser_register("outbox", _outbox_erase)  # run last by erasers_run
