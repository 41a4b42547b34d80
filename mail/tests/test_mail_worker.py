"""Email through a real Celery worker and a real SMTP sink process, with SIGKILL mid-send."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from django.db import transaction

from mail.delivery import mail_queue
from mail.models import EmailDelivery, EmailStatus
from mail.tests.smtp_sink import SinkProcess
from taskforge.dbcontext import DbContext, db_context

pytestmark = [pytest.mark.worker, pytest.mark.slow]


def wait_until(predicate: Callable[[], object], timeout: float, what: str) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture
def start_mail_worker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest):
    """Start an SMTP sink process, then a real worker whose EMAIL_URL points at it."""
    sinks: list[SinkProcess] = []

    def start(*, hold_count: int = 0) -> tuple[SinkProcess, object]:
        # Holding RCPT TO for 60 s keeps the sender inside the SMTP conversation until we kill it.
        sink = SinkProcess(tmp_path, hold_rcpt=60, hold_count=hold_count).start()
        sinks.append(sink)
        # The worker reads its email settings from the environment when it starts.
        monkeypatch.setenv("EMAIL_URL", sink.url)
        monkeypatch.setenv("EMAIL_TIMEOUT", "5")
        monkeypatch.setenv("EMAIL_SEND_LEASE_SECONDS", "12")
        return sink, request.getfixturevalue("celery_worker_proc")

    yield start
    for sink in sinks:
        sink.stop()


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _make_user(email: str):
    from accounts.models import User

    with db_context(DbContext(role="system", user_agent="test")):
        return User.objects.create_user(email, "correct-horse-battery")


def test_sigkill_mid_send_neither_loses_nor_duplicates_the_email(start_mail_worker) -> None:
    held_sink, mail_worker = start_mail_worker(hold_count=1)
    user = _make_user("kill-me@example.com")
    with transaction.atomic():
        delivery = mail_queue(
            kind="password_reset",
            to_user_id=user.pk,
            context={"reset_url": "https://example.test/reset/abc", "name": "Kim"},
            idempotency_key=f"test:kill:{user.pk}",
        )
    # The worker claimed the row and is inside the SMTP conversation (RCPT TO held by the sink).
    wait_until(lambda: held_sink.events(), 30, "the worker to reach RCPT TO")
    row = EmailDelivery.objects.get(pk=delivery.pk)
    assert row.status == EmailStatus.SENDING
    assert row.attempts == 1

    children = _children(mail_worker.proc.pid)
    assert children, "the prefork pool has child processes"
    mail_worker.kill(9)
    assert held_sink.messages() == []  # nothing was accepted before the kill
    # The pool child inside the SMTP conversation dies with its parent (Celery's prefork pool
    # sets PDEATHSIG=SIGKILL), well before its 5 s SMTP timeout: an orphan finishing the
    # send later would be exactly the duplicate this test is about.
    wait_until(lambda: not any(_alive(pid) for pid in children), 3, "the pool children to die")
    mail_worker.start()

    # The redelivered job waits for the dead sender's lease, takes the row over and sends.
    wait_until(lambda: EmailDelivery.objects.filter(pk=delivery.pk, status=EmailStatus.SENT).exists(), 60, "the resend")
    time.sleep(1.0)  # a duplicate, if any, would arrive now
    messages = held_sink.messages()
    assert len(messages) == 1, messages
    assert messages[0]["message_id"] == delivery.message_id
    assert messages[0]["to"] == ["kill-me@example.com"]
    assert "https://example.test/reset/abc" in messages[0]["raw"]
    row.refresh_from_db()
    assert row.attempts == 2
    assert "taking over from a sender that died mid-send" in row.last_error
    assert row.sent_at is not None
    assert not hasattr(row, "payload") or not EmailDelivery.objects.filter(pk=row.pk, payload__isnull=False).exists()


def test_sigkill_before_the_job_runs_loses_nothing(start_mail_worker) -> None:
    """The worker is dead when the email is queued: RabbitMQ keeps the message until one is back."""
    sink, mail_worker = start_mail_worker(hold_count=0)
    user = _make_user("later@example.com")
    mail_worker.kill(9)
    with transaction.atomic():
        delivery = mail_queue(
            kind="verify_email",
            to_user_id=user.pk,
            context={"verify_url": "https://example.test/verify/xyz"},
            idempotency_key=f"test:later:{user.pk}",
        )
    time.sleep(0.5)
    assert EmailDelivery.objects.get(pk=delivery.pk).status == EmailStatus.QUEUED
    mail_worker.start()
    wait_until(lambda: EmailDelivery.objects.filter(pk=delivery.pk, status=EmailStatus.SENT).exists(), 30, "the send")
    messages = sink.messages()
    assert [m["message_id"] for m in messages] == [delivery.message_id]
    assert "https://example.test/verify/xyz" in messages[0]["raw"]
    assert EmailDelivery.objects.get(pk=delivery.pk).attempts == 1
