"""`manage.py notify_test EMAIL`: send a test email through the real delivery path."""

from __future__ import annotations

import time
import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from mail.delivery import MailError, delivery_send, mail_queue
from mail.models import EmailDelivery, EmailStatus


class Command(BaseCommand):
    help = (
        "Queue a test email (an EmailDelivery row + the notifications.email_send job) and report its "
        "status. By default a worker sends it; --sync runs the same job function in this process."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email", help="Recipient address.")
        parser.add_argument("--sync", action="store_true", help="Send from this process instead of a worker.")
        parser.add_argument("--wait", type=int, default=30, help="Seconds to wait for a worker (default 30).")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            with transaction.atomic():
                delivery = mail_queue(
                    kind="test",
                    to_email=options["email"],
                    context={"requested_at": timezone.now().strftime("%Y-%m-%d %H:%M:%S UTC")},
                    idempotency_key=f"notify_test:{uuid.uuid4()}",
                )
        except MailError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"queued delivery {delivery.pk} to {delivery.recipient} ({delivery.message_id})")
        if options["sync"]:
            outcome = delivery_send(delivery.pk)
            self.stdout.write(f"sent in this process: {outcome.status} {outcome.detail}".rstrip())
        else:
            deadline = time.monotonic() + max(0, options["wait"])
            while time.monotonic() < deadline:
                status = EmailDelivery.objects.filter(pk=delivery.pk).values_list("status", flat=True).first()
                if status in (EmailStatus.SENT, EmailStatus.FAILED):
                    break
                time.sleep(0.5)
        delivery.refresh_from_db()
        line = f"delivery {delivery.pk}: status {delivery.status}, attempts {delivery.attempts}"
        if delivery.last_error:
            line += f", last error: {delivery.last_error}"
        if delivery.status == EmailStatus.SENT:
            self.stdout.write(self.style.SUCCESS(line))
        elif delivery.status == EmailStatus.FAILED:
            raise CommandError(line)
        else:
            self.stdout.write(self.style.WARNING(line + " (no worker finished it yet; is a worker running?)"))
