"""Email queue, delivery log, templates, retries, leases, preferences and digests.

SMTP is replaced by Django's locmem backend or a failing connection object (the SMTP
server is outside the system); one test talks real SMTP to the sink process.
"""

from __future__ import annotations

import smtplib
from datetime import timedelta
from pathlib import Path

import pytest
from django.core import mail as django_mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from mail.delivery import (
    MailError,
    backoff_seconds,
    delivery_send,
    email_sweep,
    mail_notification,
    mail_queue,
    message_id_for,
)
from mail.digests import digest_send
from mail.models import DigestItem, DigestStatus, EmailDelivery, EmailPayload, EmailStatus
from mail.tests.smtp_sink import SinkProcess


@pytest.fixture(autouse=True)
def _locmem(settings) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SITE_URL = "https://forge.example"


class FailingConnection:
    """An email connection whose SMTP server answers with `exc` (the SMTP side may be faked)."""

    def __init__(self, exc: Exception) -> None:
        self.exc = exc
        self.calls = 0

    def send_messages(self, messages: list) -> int:
        self.calls += 1
        raise self.exc


def _set_preferences(user_id: int, *, email: bool = True, cadence: str = "immediate") -> None:
    """Store the user's profile preferences where the accounts app keeps them."""
    from accounts.selectors import profile_invalidate
    from taskforge.mongo import documents_db

    documents_db()["profiles"].replace_one(
        {"_id": user_id},
        {
            "_id": user_id,
            "version": 1,
            "preferences": {"channels": {"email": email, "in_app": True}, "email_cadence": cadence, "theme": "system"},
        },
        upsert=True,
    )
    profile_invalidate(user_id)


def _queue(user, key: str = "k1", **kwargs):
    return mail_queue(
        kind=kwargs.pop("kind", "password_reset"),
        to_user_id=user.pk,
        context=kwargs.pop("context", {"reset_url": "https://forge.example/reset/t0k3n", "name": "Tara"}),
        idempotency_key=key,
        **kwargs,
    )


def test_mail_queue_writes_the_log_row_and_enqueues_only_on_commit(
    make_user,
    django_capture_on_commit_callbacks,
) -> None:
    user = make_user("traveller", email="tara@example.com")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        delivery = _queue(user)
    assert len(callbacks) == 1  # the job is sent after commit, with the id only
    assert delivery.status == EmailStatus.QUEUED
    assert delivery.recipient == "tara@example.com"
    assert delivery.user_id == user.pk
    assert delivery.subject == "Reset your TaskForge password"
    assert delivery.attempts == 0
    assert delivery.message_id == message_id_for("k1")
    assert EmailPayload.objects.get(delivery=delivery).context["reset_url"].endswith("/reset/t0k3n")


def test_the_same_idempotency_key_queues_once(make_user, django_capture_on_commit_callbacks) -> None:
    user = make_user()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        first = _queue(user, "same")
        second = _queue(user, "same")
    assert first.pk == second.pk
    assert EmailDelivery.objects.filter(idempotency_key="same").count() == 1
    assert len(callbacks) == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "no_such_kind", "to_email": "a@example.com", "context": {}}, "Unknown email kind"),
        ({"kind": "Bad Kind!", "to_email": "a@example.com", "context": {}}, "Invalid email kind"),
        ({"kind": "test", "to_email": "not-an-address", "context": {}}, "not a valid email address"),
        ({"kind": "test", "context": {}}, "needs to_user_id or to_email"),
        ({"kind": "test", "to_user_id": 987654321, "context": {}}, "No user"),
        ({"kind": "password_reset", "to_email": "a@example.com", "context": {}}, "needs reset_url"),
        ({"kind": "test", "to_email": "a@example.com", "context": {"x": object()}}, "JSON-serialisable"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message_and_writes_nothing(db, kwargs: dict, message: str) -> None:
    with pytest.raises(MailError, match=message):
        mail_queue(idempotency_key="bad", **kwargs)
    assert not EmailDelivery.objects.exists()


def test_delivery_sends_text_and_html_with_preferences_link_and_stable_message_id(make_user) -> None:
    user = make_user(email="theo@example.com")
    delivery = _queue(user)
    outcome = delivery_send(delivery.pk)
    assert outcome.status == EmailStatus.SENT
    assert len(django_mail.outbox) == 1
    message = django_mail.outbox[0]
    assert message.to == ["theo@example.com"]
    assert message.subject == "Reset your TaskForge password"
    assert message.extra_headers["Message-ID"] == delivery.message_id
    assert "https://forge.example/reset/t0k3n" in message.body
    assert "https://forge.example/accounts/profile/" in message.body
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    assert 'href="https://forge.example/reset/t0k3n"' in html
    assert 'href="https://forge.example/accounts/profile/"' in html
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_error) == (EmailStatus.SENT, 1, "")
    assert delivery.sent_at is not None
    # The one-time link does not outlive the email.
    assert not EmailPayload.objects.filter(delivery=delivery).exists()


def test_a_sent_email_is_never_sent_again(make_user) -> None:
    delivery = _queue(make_user())
    assert delivery_send(delivery.pk).status == EmailStatus.SENT
    assert delivery_send(delivery.pk).status == EmailStatus.SENT  # a redelivered job
    assert len(django_mail.outbox) == 1
    assert EmailDelivery.objects.get(pk=delivery.pk).attempts == 1


def test_transient_smtp_error_is_retried_with_backoff_then_sent(make_user) -> None:
    delivery = _queue(make_user())
    down = FailingConnection(smtplib.SMTPServerDisconnected("Connection unexpectedly closed"))
    outcome = delivery_send(delivery.pk, email_connection=down)
    assert outcome.status == EmailStatus.QUEUED
    assert outcome.retry_in == backoff_seconds(1) == 30
    delivery.refresh_from_db()
    assert delivery.status == EmailStatus.QUEUED
    assert delivery.attempts == 1
    assert "SMTPServerDisconnected" in delivery.last_error
    assert delivery.next_attempt_at > timezone.now()
    assert delivery_send(delivery.pk).status == EmailStatus.SENT
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_error) == (EmailStatus.SENT, 2, "")
    assert backoff_seconds(3) == 120
    assert backoff_seconds(30) == 3600


def test_temporary_smtp_reply_4xx_is_transient_but_5xx_is_permanent(make_user) -> None:
    user = make_user(email="gone@example.com")
    first = _queue(user, "a")
    busy = FailingConnection(smtplib.SMTPDataError(451, b"try again later"))
    assert delivery_send(first.pk, email_connection=busy).status == EmailStatus.QUEUED
    second = _queue(user, "b")
    refused = FailingConnection(smtplib.SMTPRecipientsRefused({"gone@example.com": (550, b"no such user")}))
    outcome = delivery_send(second.pk, email_connection=refused)
    assert outcome.status == EmailStatus.FAILED
    assert outcome.retry_in is None
    second.refresh_from_db()
    assert second.status == EmailStatus.FAILED
    assert "550" in second.last_error
    assert not EmailPayload.objects.filter(delivery=second).exists()


def test_transient_errors_stop_after_max_attempts(make_user, settings) -> None:
    settings.EMAIL_MAX_ATTEMPTS = 2
    delivery = _queue(make_user())
    down = FailingConnection(ConnectionRefusedError(111, "Connection refused"))
    assert delivery_send(delivery.pk, email_connection=down).status == EmailStatus.QUEUED
    assert delivery_send(delivery.pk, email_connection=down).status == EmailStatus.FAILED
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (EmailStatus.FAILED, 2)
    assert "Connection refused" in delivery.last_error


def test_a_live_claim_is_respected_and_a_stale_one_is_taken_over(make_user) -> None:
    delivery = _queue(make_user())
    # Another worker claimed it a moment ago: wait for its lease, send nothing.
    EmailDelivery.objects.filter(pk=delivery.pk).update(
        status=EmailStatus.SENDING, claimed_at=timezone.now(), attempts=1
    )
    outcome = delivery_send(delivery.pk)
    assert outcome.status == EmailStatus.SENDING
    assert 0 < outcome.retry_in <= 121
    assert django_mail.outbox == []
    # That worker died: once the lease has expired the email is taken over and sent, and the log says so.
    EmailDelivery.objects.filter(pk=delivery.pk).update(claimed_at=timezone.now() - timedelta(minutes=10))
    assert delivery_send(delivery.pk).status == EmailStatus.SENT
    assert len(django_mail.outbox) == 1
    delivery.refresh_from_db()
    assert delivery.attempts == 2
    assert "taking over from a sender that died mid-send" in delivery.last_error


def test_an_unrenderable_email_fails_for_good(db) -> None:
    delivery = mail_queue(kind="test", to_email="x@example.com", context={}, idempotency_key="t2")
    # Its templates were removed by a deploy after it was queued: retrying will not help.
    EmailDelivery.objects.filter(pk=delivery.pk).update(kind="vanished")
    outcome = delivery_send(delivery.pk)
    assert outcome.status == EmailStatus.FAILED
    assert outcome.retry_in is None
    assert "cannot render" in EmailDelivery.objects.get(pk=delivery.pk).last_error
    assert django_mail.outbox == []


def test_sweep_requeues_lost_messages_only(make_user, settings) -> None:
    user = make_user()
    fresh = _queue(user, "fresh")
    lost = _queue(user, "lost")
    dead = _queue(user, "dead")
    done = _queue(user, "done")
    old = timezone.now() - timedelta(minutes=settings.EMAIL_SWEEP_MINUTES + 1)
    EmailDelivery.objects.filter(pk=lost.pk).update(next_attempt_at=old)
    EmailDelivery.objects.filter(pk=dead.pk).update(status=EmailStatus.SENDING, claimed_at=old - timedelta(hours=1))
    EmailDelivery.objects.filter(pk=done.pk).update(status=EmailStatus.SENT, next_attempt_at=old)
    requeued = email_sweep()  # publishes to this run's queue in RabbitMQ
    assert sorted(requeued) == sorted([lost.pk, dead.pk])
    assert fresh.pk not in requeued


# --- preferences and digests ---------------------------------------------------------------


def test_notification_follows_the_users_preferences(make_user, django_capture_on_commit_callbacks) -> None:
    immediate, daily, off = make_user("staff"), make_user("staff"), make_user("staff")
    _set_preferences(immediate.pk, cadence="immediate")
    _set_preferences(daily.pk, cadence="daily")
    _set_preferences(off.pk, email=False, cadence="immediate")
    with django_capture_on_commit_callbacks(execute=False):
        results = [
            mail_notification(
                user_id=u.pk,
                kind="task_assigned",
                summary="Sam assigned you “Fix the boiler”",
                url="/tasks/42/",
                idempotency_key=f"n:{u.pk}",
            )
            for u in (immediate, daily, off)
        ]
    assert results == ["queued", "digest", "skipped"]
    delivery = EmailDelivery.objects.get(user=immediate)
    assert delivery.kind == "task_assigned"
    assert delivery.subject == "Sam assigned you “Fix the boiler”"
    assert DigestItem.objects.filter(user=daily, status=DigestStatus.PENDING).count() == 1
    assert not EmailDelivery.objects.filter(user__in=[daily, off]).exists()
    assert not DigestItem.objects.filter(user=off).exists()
    delivery_send(delivery.pk)
    body = django_mail.outbox[0].body
    assert "https://forge.example/tasks/42/" in body
    assert "https://forge.example/accounts/profile/" in body


def test_digest_sends_one_email_listing_everything_since_the_last_one(make_user) -> None:
    user = make_user("staff", email="kim@example.com")
    _set_preferences(user.pk, cadence="daily")
    for n in range(3):
        assert (
            mail_notification(
                user_id=user.pk,
                kind="task_commented",
                summary=f"New comment {n}",
                url=f"/tasks/{n}/",
                idempotency_key=f"c:{n}",
            )
            == "digest"
        )
    assert digest_send("hourly") == 0  # not this user's cadence
    assert digest_send("weekly") == 0
    assert digest_send("daily") == 1
    assert digest_send("daily") == 0  # run twice (redelivered job): nothing more
    delivery = EmailDelivery.objects.get(user=user, kind="digest")
    assert delivery.subject == "Your daily TaskForge digest: 3 updates"
    assert set(DigestItem.objects.values_list("status", flat=True)) == {DigestStatus.BATCHED}
    assert delivery_send(delivery.pk).status == EmailStatus.SENT
    message = django_mail.outbox[0]
    for n in range(3):
        assert f"New comment {n}" in message.body
        assert f"https://forge.example/tasks/{n}/" in message.alternatives[0][0]
    assert "https://forge.example/accounts/profile/" in message.body
    # The next digest lists only what came after.
    mail_notification(
        user_id=user.pk, kind="task_commented", summary="Later comment", url="/tasks/9/", idempotency_key="c:later"
    )
    assert digest_send("daily") == 1
    later = EmailDelivery.objects.filter(user=user, kind="digest").order_by("-id").first()
    assert later.pk != delivery.pk
    assert later.subject == "Your daily TaskForge digest: 1 update"


def test_digest_items_are_dropped_when_email_is_turned_off_and_flushed_when_immediate(make_user) -> None:
    quiet, eager = make_user("staff"), make_user("staff")
    for user in (quiet, eager):
        _set_preferences(user.pk, cadence="weekly")
        mail_notification(
            user_id=user.pk, kind="task_due", summary="Due tomorrow", url="/tasks/1/", idempotency_key=f"d:{user.pk}"
        )
    _set_preferences(quiet.pk, email=False, cadence="weekly")
    _set_preferences(eager.pk, cadence="immediate")
    assert digest_send("hourly") == 1  # the user who switched to immediate gets the backlog now
    assert DigestItem.objects.get(user=quiet).status == DigestStatus.DROPPED
    assert EmailDelivery.objects.filter(user=eager, kind="digest").count() == 1
    assert not EmailDelivery.objects.filter(user=quiet).exists()


def test_unreadable_preferences_defer_the_email_to_the_next_digest_run(make_user, docserver) -> None:
    """Document server down: we cannot know whether the user opted out, so nothing is sent yet."""
    from accounts.selectors import profile_invalidate

    user = make_user("staff")
    profile_invalidate(user.pk)
    docserver.stop()
    try:
        result = mail_notification(
            user_id=user.pk,
            kind="task_assigned",
            summary="Assigned while down",
            url="/tasks/5/",
            idempotency_key="down:1",
        )
        assert result == "digest"
        assert digest_send("hourly") == 0  # still unreadable: wait
    finally:
        docserver.start()
    from accounts.selectors import profile_breaker_reset

    profile_breaker_reset()  # the accounts app stops asking a down server for a few seconds
    assert not EmailDelivery.objects.exists()
    _set_preferences(user.pk, cadence="immediate")
    assert digest_send("hourly") == 1
    assert "Assigned while down" in str(EmailPayload.objects.get().context)


def test_notification_input_is_validated(make_user) -> None:
    user = make_user()
    with pytest.raises(MailError, match="summary"):
        mail_notification(user_id=user.pk, kind="task_due", summary="  ", url="/", idempotency_key="x")
    with pytest.raises(MailError, match="No user"):
        mail_notification(user_id=99999999, kind="task_due", summary="s", url="/", idempotency_key="y")
    with pytest.raises(MailError, match="cadence"):
        digest_send("monthly")
    assert not DigestItem.objects.exists()


def test_booking_emails_use_their_templates(make_user) -> None:
    user = make_user(email="tara2@example.com")
    _set_preferences(user.pk, cadence="immediate")
    mail_notification(
        user_id=user.pk,
        kind="booking_confirmed",
        summary="3 nights in Lisbon, 2 travellers",
        url="/bookings/7/",
        idempotency_key="b:7:confirmed",
        context={"trip_name": "Lisbon lights", "reference": "TF-7", "total": "€1,240.00"},
    )
    delivery = EmailDelivery.objects.get(idempotency_key="b:7:confirmed")
    assert delivery.subject == "Booking confirmed: Lisbon lights (TF-7)"
    delivery_send(delivery.pk)
    body = django_mail.outbox[0].body
    assert "Reference: TF-7" in body
    assert "Total: €1,240.00" in body
    assert "https://forge.example/bookings/7/" in body


# --- notify_test and the admin log -------------------------------------------------------------


def test_notify_test_sends_through_the_delivery_path(db, capsys) -> None:
    call_command("notify_test", "ops@example.com", "--sync")
    out = capsys.readouterr().out
    delivery = EmailDelivery.objects.get(kind="test")
    assert delivery.status == EmailStatus.SENT
    assert f"delivery {delivery.pk}: status sent, attempts 1" in out
    assert django_mail.outbox[0].to == ["ops@example.com"]
    assert "outgoing email works" in django_mail.outbox[0].body


def test_notify_test_refuses_a_bad_address(db) -> None:
    with pytest.raises(CommandError, match="not a valid email address"):
        call_command("notify_test", "nope", "--sync")
    assert not EmailDelivery.objects.exists()


def test_admins_browse_the_delivery_log_read_only_and_others_cannot(client, make_user) -> None:
    admin = make_user("admin")
    staff = make_user("staff")
    delivery = _queue(staff, "log")
    client.force_login(admin)
    page = client.get("/admin/mail/emaildelivery/")
    assert page.status_code == 200
    assert staff.email in page.content.decode()
    detail = client.get(f"/admin/mail/emaildelivery/{delivery.pk}/change/")
    assert detail.status_code == 200
    assert "Save" not in detail.content.decode()  # read-only
    assert client.get("/admin/mail/emaildelivery/add/").status_code == 403
    client.force_login(staff)
    assert client.get("/admin/mail/emaildelivery/").status_code == 403  # signed in, not a site admin


def test_real_smtp_temporary_failure_then_success(make_user, settings, tmp_path: Path) -> None:
    """Real smtplib against the sink process: a 451 is retried, the second attempt is accepted."""
    sink = SinkProcess(tmp_path, fail_data=1).start()
    try:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", sink.port
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        delivery = _queue(make_user(email="real@example.com"))
        first = delivery_send(delivery.pk)
        assert first.status == EmailStatus.QUEUED
        assert "451" in first.detail
        assert delivery_send(delivery.pk).status == EmailStatus.SENT
        messages = sink.messages()
        assert [m["message_id"] for m in messages] == [delivery.message_id]
        assert messages[0]["to"] == ["real@example.com"]
        assert "multipart/alternative" in messages[0]["raw"]
    finally:
        sink.stop()
