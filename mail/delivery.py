"""Outgoing email: queue in the caller's transaction, send exactly once from a worker.

Entry points for the other apps
-------------------------------
``mail_queue(*, kind, to_user_id=None, to_email=None, context=None, idempotency_key)``
    Always sends (account and security emails that must go out whatever the user's
    notification settings: ``verify_email``, ``password_reset``, ``invitation``, ``test``).
    Creates an EmailDelivery row (status queued) in the caller's transaction and queues
    ``notifications.email_send`` on commit. Queuing the same ``idempotency_key`` again
    returns the existing row and queues nothing. Returns the EmailDelivery.

``mail_notification(*, user_id, kind, summary, url, idempotency_key, context=None)``
    A notification (task events, ``booking_confirmed``, ``booking_cancelled``, ...) that
    follows the user's preferences: nothing when email is off, an email now when the
    cadence is "immediate", otherwise a DigestItem that the hourly/daily/weekly digest
    job sends as ONE email listing everything since the last digest. Returns "queued",
    "digest" or "skipped".

``mail_queue`` context may carry text attachments under ``"attachments"``: a list of
``{"filename", "mimetype", "content"}`` (e.g. a booking's ``.ics`` calendar file); they are
attached to the email as they are. Digests carry none.

Kinds and templates: ``templates/email/<kind>.subject.txt``, ``<kind>.txt`` and
``<kind>.html``. A notification kind without its own templates uses the generic
``notification.*`` ones (summary + link), so the tasks app may use any kind name
(``task_assigned``, ``task_mentioned`` ...). Every email carries a link to the
notification preferences (SITE_URL + /accounts/profile/).

Preferences come through ``mail.preferences.preferences_for(user_id)``, whose provider the
accounts app registers (``accounts.selectors.notification_preferences``). When they cannot
be read (None: document server down), the notification is parked as a digest item and the
next hourly run decides, so an opted-out user is never mailed by accident.

Exactly once, and what "once" means here
----------------------------------------
The job (acks_late + reject_on_worker_lost, so a SIGKILLed worker's message is
redelivered) first CLAIMS the row with one UPDATE: status queued -> sending and
claimed_at = now(), or takes over a 'sending' row whose lease (EMAIL_SEND_LEASE_SECONDS)
has expired. A redelivered message that finds a live lease waits for it to expire. Only
the claimant sends, and it marks the row sent with ``WHERE claimed_at = <its claim>``.
The Celery hard time limit of the job equals the lease, so no sender outlives its lease,
and Celery's prefork pool sets PDEATHSIG=SIGKILL on its children, so a SIGKILLed worker
does not leave an orphan finishing the SMTP conversation behind it.

Residual risk, stated honestly: if the worker dies after the SMTP server has accepted the
message (the 250 reply to DATA) but before the "sent" UPDATE commits (a window of about
one round trip to PostgreSQL), the row is taken over after the lease and the email is
sent a second time. SMTP offers no way to ask the server whether it already has it. To
make such a duplicate detectable, the Message-ID is derived from the idempotency key, so
both copies carry the same Message-ID (mail clients such as Gmail collapse them), and a
row taken over from a dead sender says so in ``last_error``. A kill at any other point
(before or during the SMTP conversation, before DATA is accepted) neither loses nor
duplicates the email; tests/test_mail_worker.py proves it with a real worker killed with
SIGKILL mid-conversation and a real SMTP sink process.
"""

from __future__ import annotations

import hashlib
import logging
import re
import smtplib
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parseaddr
from typing import Any

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.template import TemplateDoesNotExist, TemplateSyntaxError
from django.template.loader import render_to_string, select_template
from django.urls import reverse
from django.utils import timezone

from mail.models import DigestItem, EmailDelivery, EmailPayload, EmailStatus
from mail.preferences import preferences_for
from taskforge.tasks_util import enqueue_on_commit

logger = logging.getLogger(__name__)

KIND_RE = re.compile(r"^[a-z][a-z0-9_]{1,63}$")
DIGEST_CADENCES = ("hourly", "daily", "weekly")
DIGEST_MAX_ITEMS = 200
GENERIC_KIND = "notification"
ATTACHMENTS_KEY = "attachments"
# Context keys an email is useless without; checked when it is queued, not when it is sent.
REQUIRED_CONTEXT = {
    "verify_email": ("verify_url",),
    "password_reset": ("reset_url",),
    "invitation": ("team_name", "accept_url"),
}


class MailError(ValueError):
    """Bad input to mail_queue/mail_notification (unknown kind, no recipient, ...)."""


# --- queuing ------------------------------------------------------------------------------


def preferences_url() -> str:
    return settings.SITE_URL.rstrip("/") + reverse("accounts:profile")


def absolute_url(url: str) -> str:
    if url.startswith("/"):
        return settings.SITE_URL.rstrip("/") + url
    return url


def message_id_for(idempotency_key: str) -> str:
    """A stable Message-ID: every send of one delivery carries the same one."""
    domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or "taskforge.local"
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]
    return f"<{digest}@{domain}>"


def _template_kind(kind: str, context: dict[str, Any]) -> str:
    """The template family for kind: its own, or the generic notification one."""
    try:
        select_template([f"email/{kind}.txt"])
        return kind
    except TemplateDoesNotExist:
        if "summary" in context:
            return GENERIC_KIND
        raise MailError(f"Unknown email kind {kind!r}: no templates/email/{kind}.txt and no summary.") from None


def _render_subject(kind: str, context: dict[str, Any]) -> str:
    template_kind = _template_kind(kind, context)
    subject = render_to_string(f"email/{template_kind}.subject.txt", _template_context(kind, context, None))
    return " ".join(subject.split())[:255]


def _template_context(kind: str, context: dict[str, Any], recipient: str | None) -> dict[str, Any]:
    full = dict(context)
    if "url" in full and isinstance(full["url"], str):
        full["url"] = absolute_url(full["url"])
    full.update(
        kind=kind,
        recipient=recipient,
        site_url=settings.SITE_URL.rstrip("/"),
        site_name=getattr(settings, "SITE_NAME", "TaskForge"),
        preferences_url=preferences_url(),
    )
    return full


def _recipient_for(to_user_id: int | None, to_email: str | None) -> tuple[int | None, str]:
    from django.contrib.auth import get_user_model
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    if to_email:
        to_email = to_email.strip()
        try:
            validate_email(to_email)
        except ValidationError:
            raise MailError(f"{to_email!r} is not a valid email address.") from None
    if to_user_id is not None:
        row = get_user_model().objects.filter(pk=to_user_id).values_list("email", flat=True).first()
        if row is None:
            raise MailError(f"No user {to_user_id}.")
        return int(to_user_id), to_email or row
    if not to_email:
        raise MailError("An email needs to_user_id or to_email.")
    return None, to_email


def mail_queue(
    *,
    kind: str,
    to_user_id: int | None = None,
    to_email: str | None = None,
    context: dict[str, Any] | None = None,
    idempotency_key: str,
) -> EmailDelivery:
    """Queue one email in the caller's transaction; the worker sends it after commit."""
    if not isinstance(kind, str) or not KIND_RE.match(kind):
        raise MailError(f"Invalid email kind {kind!r}.")
    if not idempotency_key or len(idempotency_key) > 200:
        raise MailError("idempotency_key is required (at most 200 characters).")
    context = dict(context or {})
    try:
        # The context is stored as JSON; refuse what would not survive the round trip.
        import json

        context = json.loads(json.dumps(context, cls=DjangoJSONEncoder))
    except (TypeError, ValueError) as exc:
        raise MailError(f"Email context must be JSON-serialisable: {exc}") from None
    for attachment in context.get(ATTACHMENTS_KEY) or []:
        if not isinstance(attachment, dict) or not all(
            isinstance(attachment.get(key), str) and attachment.get(key) for key in ("filename", "mimetype", "content")
        ):
            raise MailError("An attachment needs a filename, a mimetype and text content.")
    missing = [key for key in REQUIRED_CONTEXT.get(kind, ()) if not context.get(key)]
    if missing:
        raise MailError(f"A {kind} email needs {', '.join(missing)} in its context.")
    user_id, recipient = _recipient_for(to_user_id, to_email)
    existing = EmailDelivery.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing
    try:
        subject = _render_subject(kind, context)
    except TemplateSyntaxError as exc:
        raise MailError(f"Email template for {kind!r} is broken: {exc}") from None
    with transaction.atomic():
        delivery, created = EmailDelivery.objects.get_or_create(
            idempotency_key=idempotency_key,
            defaults={
                "user_id": user_id,
                "recipient": recipient,
                "kind": kind,
                "subject": subject,
                "message_id": message_id_for(idempotency_key),
            },
        )
        if created:
            EmailPayload.objects.create(delivery=delivery, context=context)
            enqueue_on_commit(email_send_task, delivery.pk)
    return delivery


def mail_notification(
    *,
    user_id: int,
    kind: str,
    summary: str,
    url: str,
    idempotency_key: str,
    context: dict[str, Any] | None = None,
) -> str:
    """Email a notification now, park it for the user's digest, or skip it (email off)."""
    from django.contrib.auth import get_user_model

    if not isinstance(kind, str) or not KIND_RE.match(kind):
        raise MailError(f"Invalid email kind {kind!r}.")
    if not summary or not summary.strip():
        raise MailError("A notification needs a summary.")
    if not idempotency_key or len(idempotency_key) > 200:
        raise MailError("idempotency_key is required (at most 200 characters).")
    user = get_user_model().objects.filter(pk=user_id).values("is_active", "erased_at").first()
    if user is None:
        raise MailError(f"No user {user_id}.")
    if not user["is_active"] or user.get("erased_at"):
        return "skipped"
    prefs = preferences_for(user_id)
    if prefs is not None and not prefs.email:
        return "skipped"
    if prefs is not None and prefs.cadence == "immediate":
        mail_queue(
            kind=kind,
            to_user_id=user_id,
            context={**(context or {}), "summary": summary.strip(), "url": url},
            idempotency_key=idempotency_key,
        )
        return "queued"
    DigestItem.objects.get_or_create(
        idempotency_key=idempotency_key,
        defaults={"user_id": user_id, "kind": kind, "summary": summary.strip()[:500], "url": url[:500]},
    )
    return "digest"


# --- sending ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SendOutcome:
    """What the job should do next: nothing (status final or not ours) or retry later."""

    status: str
    retry_in: int | None = None
    detail: str = ""


_CLAIM_SQL = """
UPDATE email_delivery
   SET status = 'sending', claimed_at = clock_timestamp(), attempts = attempts + 1,
       last_error = CASE WHEN status = 'sending'
                         THEN 'previous attempt died mid-send (lease expired); it may have reached the SMTP server. '
                              || last_error
                         ELSE last_error END
 WHERE id = %s
   AND (status = 'queued'
        OR (status = 'sending' AND claimed_at < clock_timestamp() - make_interval(secs => %s)))
RETURNING claimed_at, attempts, last_error LIKE 'previous attempt died%%'
"""
TAKEOVER_NOTE = (
    "sent after taking over from a sender that died mid-send; if that one had already reached the SMTP "
    "server, the recipient has two copies with the same Message-ID"
)


def _claim(delivery_id: int) -> tuple[datetime, int, bool] | None:
    """Claim the row for this sender: (claimed_at, attempts, took over a dead sender's claim)."""
    with connection.cursor() as cursor:
        cursor.execute(_CLAIM_SQL, [delivery_id, settings.EMAIL_SEND_LEASE_SECONDS])
        row = cursor.fetchone()
    return (row[0], row[1], bool(row[2])) if row else None


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _msg in exc.recipients.values()]
        return any(400 <= code < 500 for code in codes)
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return True  # a configuration problem: keep the email until it is fixed (bounded by attempts)
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500 or exc.smtp_code < 200
    if isinstance(exc, smtplib.SMTPServerDisconnected | smtplib.SMTPConnectError | ConnectionError | socket.timeout):
        return True
    if isinstance(exc, smtplib.SMTPException | OSError):
        return True
    return False


def backoff_seconds(attempts: int) -> int:
    return int(min(30 * 2 ** max(attempts - 1, 0), 3600))


def build_message(delivery: EmailDelivery, context: dict[str, Any]) -> EmailMultiAlternatives:
    template_kind = _template_kind(delivery.kind, context)
    full = _template_context(delivery.kind, context, delivery.recipient)
    text = render_to_string(f"email/{template_kind}.txt", full)
    html = render_to_string(f"email/{template_kind}.html", full)
    message = EmailMultiAlternatives(
        subject=delivery.subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[delivery.recipient],
        headers={
            "Message-ID": delivery.message_id,
            "X-TaskForge-Delivery": str(delivery.pk),
            "X-TaskForge-Kind": delivery.kind,
            "List-Unsubscribe": f"<{preferences_url()}>",
        },
    )
    message.attach_alternative(html, "text/html")
    # Text attachments travel in the context (JSON): [{"filename", "mimetype", "content"}].
    for attachment in context.get(ATTACHMENTS_KEY) or []:
        message.attach(attachment["filename"], attachment["content"], attachment["mimetype"])
    return message


def delivery_send(delivery_id: int, *, email_connection: Any = None) -> SendOutcome:
    """Claim, send and record one delivery. Called by the notifications.email_send job
    (and by `manage.py notify_test --sync`). Must run outside a transaction: the claim
    has to be committed before the SMTP conversation starts."""
    claim = _claim(delivery_id)
    if claim is None:
        row = EmailDelivery.objects.filter(pk=delivery_id).values("status", "claimed_at").first()
        if row is None:
            return SendOutcome("missing")
        if row["status"] == EmailStatus.SENDING and row["claimed_at"] is not None:
            # Another sender holds a live lease (or died holding it): look again when it ends.
            remaining = settings.EMAIL_SEND_LEASE_SECONDS - (timezone.now() - row["claimed_at"]).total_seconds()
            return SendOutcome(EmailStatus.SENDING, retry_in=max(1, int(remaining) + 1), detail="leased")
        return SendOutcome(row["status"])
    claimed_at, attempts, takeover = claim
    delivery = EmailDelivery.objects.get(pk=delivery_id)
    payload = EmailPayload.objects.filter(delivery_id=delivery_id).values_list("context", flat=True).first() or {}
    try:
        message = build_message(delivery, payload)
    except Exception as exc:  # noqa: BLE001 - a broken template or context will not get better by retrying
        _finish(delivery_id, claimed_at, EmailStatus.FAILED, f"cannot render: {exc}")
        return SendOutcome(EmailStatus.FAILED, detail=str(exc))
    try:
        conn = email_connection or get_connection(fail_silently=False, timeout=settings.EMAIL_TIMEOUT)
        sent = conn.send_messages([message])
        if not sent:
            raise smtplib.SMTPException("the email backend reported nothing sent")
    except Exception as exc:  # noqa: BLE001 - classified below; unknown errors are retried, bounded
        error = f"{type(exc).__name__}: {exc}"[:2000]
        if _is_transient(exc) and attempts < settings.EMAIL_MAX_ATTEMPTS:
            delay = backoff_seconds(attempts)
            _release(delivery_id, claimed_at, error, delay)
            logger.info(
                "email %s: transient failure (attempt %s), retry in %ss: %s", delivery_id, attempts, delay, error
            )
            return SendOutcome(EmailStatus.QUEUED, retry_in=delay, detail=error)
        _finish(delivery_id, claimed_at, EmailStatus.FAILED, error)
        logger.warning("email %s failed for good after %s attempt(s): %s", delivery_id, attempts, error)
        return SendOutcome(EmailStatus.FAILED, detail=error)
    # The window between the SMTP server's acceptance and this UPDATE is the residual
    # duplicate risk (module docstring): nothing else happens in between.
    if not _finish(delivery_id, claimed_at, EmailStatus.SENT, TAKEOVER_NOTE if takeover else ""):
        logger.error("email %s was sent but its claim had been taken over; a duplicate is possible", delivery_id)
    return SendOutcome(EmailStatus.SENT)


def _finish(delivery_id: int, claimed_at: datetime, status: str, error: str) -> bool:
    with transaction.atomic():
        updated = EmailDelivery.objects.filter(
            pk=delivery_id, status=EmailStatus.SENDING, claimed_at=claimed_at
        ).update(
            status=status,
            last_error=error,
            sent_at=timezone.now() if status == EmailStatus.SENT else None,
        )
        if updated:
            # One-time links must not outlive their email.
            EmailPayload.objects.filter(delivery_id=delivery_id).delete()
    return bool(updated)


def _release(delivery_id: int, claimed_at: datetime, error: str, delay: int) -> None:
    EmailDelivery.objects.filter(pk=delivery_id, status=EmailStatus.SENDING, claimed_at=claimed_at).update(
        status=EmailStatus.QUEUED,
        last_error=error,
        claimed_at=None,
        next_attempt_at=timezone.now() + timedelta(seconds=delay),
    )


def email_sweep() -> list[int]:
    """Re-queue deliveries whose message was lost: queued past their due time by more than
    EMAIL_SWEEP_MINUTES (e.g. the broker was down at commit), or 'sending' long after the
    lease expired. Double messages are harmless: only one claim succeeds."""

    now = timezone.now()
    grace = timedelta(minutes=settings.EMAIL_SWEEP_MINUTES)
    lease = timedelta(seconds=settings.EMAIL_SEND_LEASE_SECONDS)
    stale_queued = EmailDelivery.objects.filter(status=EmailStatus.QUEUED, next_attempt_at__lt=now - grace)
    stale_sending = EmailDelivery.objects.filter(status=EmailStatus.SENDING, claimed_at__lt=now - lease - grace)
    ids = list(stale_queued.values_list("pk", flat=True)[:1000]) + list(
        stale_sending.values_list("pk", flat=True)[:1000]
    )
    for delivery_id in ids:
        try:
            email_send_task.apply_async(args=[delivery_id])
        except Exception:
            logger.exception("could not re-queue email %s", delivery_id)
            return []
    return ids


# --- Celery jobs (next to what they call) ----------------------------------------------------


@shared_task(
    name="notifications.email_send",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    max_retries=None,  # bounded by EmailDelivery.attempts (EMAIL_MAX_ATTEMPTS) and the lease
    # No sender may outlive its claim lease, or a redelivered job could take the email over.
    time_limit=settings.EMAIL_SEND_LEASE_SECONDS,
    soft_time_limit=max(1, settings.EMAIL_SEND_LEASE_SECONDS - 2),
)
def email_send_task(self, delivery_id: int) -> str:
    outcome = delivery_send(int(delivery_id))
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in)
    return outcome.status


@shared_task(name="notifications.email_sweep", ignore_result=True, time_limit=120, soft_time_limit=110)
def email_sweep_task() -> int:
    return len(email_sweep())
