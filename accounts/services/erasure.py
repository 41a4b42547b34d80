"""Erasing an account ("Delete my account"): every app's eraser runs in one transaction
(accounts/export.py), the profile becomes a tombstone, the account is pseudonymised."""

from __future__ import annotations

import logging
import secrets

from django.contrib.auth import logout
from django.db import connection, transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts.devices import device_for_sign_in
from accounts.export import ErasureSubject, ExportUnavailable, erasers_run
from accounts.models import PROFILE_AGGREGATE, CapabilityGrant, ErasureRecord, User
from accounts.presence import presence_forget
from accounts.selectors import profile_document, profile_invalidate, teams_where_last_admin
from accounts.services.signin import DEVICE_PREFIX, attempt_reserve
from audit.services import audit_content_record
from sync.models import OutboxEvent
from sync.outbox import outbox_record
from taskforge.dbcontext import context_for_system, db_context
from taskforge.errors import Conflict, RateLimited, ServiceError, Unavailable
from taskforge.middleware import client_ip
from taskforge.mongo import DocumentStoreUnavailable

logger = logging.getLogger(__name__)


def _names_known(user: User) -> list[str]:
    """Every first/last name the profile ever had that PostgreSQL still knows of (outbox payloads)."""
    names: set[str] = set()
    payloads = OutboxEvent.objects.filter(aggregate_type=PROFILE_AGGREGATE, aggregate_id=str(user.pk)).values_list(
        "payload", flat=True
    )
    for payload in payloads:
        for key in ("first_name", "last_name"):
            if payload.get(key):
                names.add(payload[key])
        full = f"{payload.get('first_name') or ''} {payload.get('last_name') or ''}".strip()
        if full:
            names.add(full)
    try:
        doc = profile_document(user.pk)
    except DocumentStoreUnavailable:
        doc = None  # the outbox payloads above hold every name the document can have
    if doc is not None:
        names.update(name for name in (doc.first_name, doc.last_name) if name)
    if user.display_name:
        names.add(user.display_name)
    return sorted(names, key=len, reverse=True)


def account_erase(request: HttpRequest, *, user: User, password: str) -> ErasureRecord:
    """Delete the profile, pseudonymise everything kept, end all sessions, record the erasure."""
    ip = client_ip(request)
    agent = request.META.get("HTTP_USER_AGENT", "")
    device = device_for_sign_in(request, user.email)  # an attack on the account does not block its owner
    wait, reservation = attempt_reserve(email=user.email, ip=ip, user_agent=agent, device=device)
    if wait or reservation is None:
        raise RateLimited("Too many wrong passwords. Try again later.", retry_after=wait)
    if not user.check_password(password):
        reservation.fail(user=user, reason=(DEVICE_PREFIX if device else "") + "bad_password")
        raise ServiceError("The password is incorrect.", field="password")
    reservation.release()
    alone = teams_where_last_admin(user)
    if alone:
        raise Conflict(
            "You are the only admin of "
            + ", ".join(t.name for t in alone)
            + ". Make someone else admin (or leave the team) first."
        )
    pseudonym = f"Former user {secrets.token_hex(3)}"
    subject = ErasureSubject(
        user_id=user.pk,
        email=user.email,
        names=_names_known(user),
        pseudonym=pseudonym,
        pseudo_email=f"erased-{user.pk}@erased.invalid",
    )
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        try:
            summary = erasers_run(subject)
        except ExportUnavailable:
            raise Unavailable(
                "Part of your data cannot be reached right now, so nothing was deleted. "
                "Please try again in a few minutes."
            ) from None
        # The profile: a versioned tombstone; older payloads keep nothing personal.
        version = locked.profile_version + 1
        OutboxEvent.objects.filter(aggregate_type=PROFILE_AGGREGATE, aggregate_id=str(user.pk)).update(
            payload={"deleted": True}
        )
        outbox_record(
            aggregate_type=PROFILE_AGGREGATE,
            aggregate_id=str(user.pk),
            version=version,
            event_type="profile.erased",
            payload={"deleted": True},
        )
        audit_content_record(table="accounts_profile", record_id=str(user.pk), operation="DELETE", old=None, new=None)
        locked.email = subject.pseudo_email
        locked.display_name = pseudonym
        locked.set_unusable_password()
        locked.is_active = False
        # Capabilities go with the account. Grants may only be written by a site admin or the
        # system (RLS), and this is the person's own request: the system removes them.
        with db_context(context_for_system("accounts erasure")):
            CapabilityGrant.objects.filter(user_id=user.pk).delete()
        locked.email_verified = False
        locked.last_login = None
        locked.erased_at = timezone.now()
        locked.profile_version = version
        locked.save()
        record = ErasureRecord.objects.create(
            user_id=user.pk, pseudonym=pseudonym, requested_by="self", summary=summary
        )
        # Last, so it also covers the audit rows written by this transaction.
        with connection.cursor() as cursor:
            cursor.execute("SELECT accounts_audit_pseudonymise(%s, %s, %s)", [user.pk, pseudonym, subject.pseudo_email])
            record_summary = cursor.fetchone()[0]
        transaction.on_commit(lambda: profile_invalidate(user.pk))
        transaction.on_commit(lambda: presence_forget(user.pk))
        # The avatar file is deleted by the profile applier with the tombstone (accounts/sync.py).
    logger.info("user %s erased (%s audit rows pseudonymised)", user.pk, record_summary)
    logout(request)
    return record
