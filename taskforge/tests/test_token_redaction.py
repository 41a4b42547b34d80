"""One-time tokens (email verification, password reset, team invitations) never reach a
log: not gunicorn's access or error log, not Django's own request log."""

from __future__ import annotations

import runpy
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from taskforge.logging import redact_tokens
from taskforge.testing.personas import person_create

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("GET /invitations/Xy_9-abc/ HTTP/1.1", "GET /invitations/[redacted]/ HTTP/1.1"),
        ("GET /accounts/verify/eyJ1IjoxfQ:1t2:AbC/ HTTP/1.1", "GET /accounts/verify/[redacted]/ HTTP/1.1"),
        ("POST /accounts/reset/MTI/cfx1-9a8b7c/ HTTP/1.1", "POST /accounts/reset/MTI/[redacted]/ HTTP/1.1"),
        ("Not Found: /invitations/Xy_9-abc/", "Not Found: /invitations/[redacted]/"),
        ('"http://tf.example.com/invitations/Xy_9-abc/"', '"http://tf.example.com/invitations/[redacted]/"'),
        (
            "GET /accounts/login/?next=%2Finvitations%2FXy_9-abc%2F",
            "GET /accounts/login/?next=%2Finvitations%2F[redacted]%2F",
        ),
        # Not tokens: these stay as they are.
        ("GET /accounts/verify/resend/ HTTP/1.1", "GET /accounts/verify/resend/ HTTP/1.1"),
        ("GET /accounts/reset/MTI/set-password/ HTTP/1.1", "GET /accounts/reset/MTI/set-password/ HTTP/1.1"),
        ("GET /accounts/reset/done/ HTTP/1.1", "GET /accounts/reset/done/ HTTP/1.1"),
        ("GET /trips/?q=reset HTTP/1.1", "GET /trips/?q=reset HTTP/1.1"),
    ],
)
def test_redact_tokens(line: str, expected: str) -> None:
    assert redact_tokens(line) == expected


def test_the_deployed_gunicorn_uses_the_redacting_logger() -> None:
    conf = runpy.run_path(str(ROOT / "deploy" / "gunicorn.conf.py"))
    assert conf["logger_class"] == "taskforge.gunicorn_log.RedactingLogger"
    assert conf["accesslog"] == "-"


def _get(url: str, **headers: str) -> int:
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - the test's own server
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_tokens_stay_out_of_the_access_log_and_the_django_log(live_server_proc) -> None:
    from accounts.models import User
    from accounts.services.invitations import invitation_create
    from accounts.services.registration import verification_token
    from accounts.services.teams import team_create

    admin = person_create("team_creator", f"lead-{uuid.uuid4().hex[:6]}@example.com")
    newcomer = User.objects.create_user(f"new-{uuid.uuid4().hex[:6]}@example.com", None)
    team = team_create(user=admin, name="Night Shift", slug=f"night-{admin.pk}")
    _, invitation = invitation_create(actor=admin, team=team, email="guest@example.com", role="guest")
    verification = verification_token(newcomer)
    uid = urlsafe_base64_encode(force_bytes(newcomer.pk))
    reset = default_token_generator.make_token(newcomer)
    bogus = "Bogus" + uuid.uuid4().hex
    tokens = [invitation, verification, reset, bogus]

    base = live_server_proc.url
    answers = {
        "invitation": _get(f"{base}/invitations/{invitation}/"),
        "verification": _get(f"{base}/accounts/verify/{verification}/"),
        "reset": _get(f"{base}/accounts/reset/{uid}/{reset}/"),
        # Refused links: Django logs them too ("Not Found: /invitations/...").
        "bad invitation": _get(f"{base}/invitations/{bogus}/"),
        "bad verification": _get(f"{base}/accounts/verify/{bogus}/"),
        # A page's own requests carry it in the Referer; a sign-in link in ?next=.
        "static": _get(f"{base}/static/css/site.css", Referer=f"{base}/invitations/{invitation}/"),
        "next": _get(f"{base}/accounts/login/?next=%2Finvitations%2F{invitation}%2F"),
    }
    assert answers["invitation"] == 200 and answers["verification"] == 200 and answers["static"] == 200
    assert answers["bad invitation"] in (404, 410) and answers["bad verification"] == 404

    # The lines are there (access log and Django's warnings), without their tokens. Two
    # workers write them, so wait until each has arrived.
    expected = [
        'GET /invitations/[redacted]/ HTTP/1.1" 200',
        'GET /accounts/verify/[redacted]/ HTTP/1.1" 200',
        f"GET /accounts/reset/{uid}/[redacted]/ HTTP/1.1",
        "GET /accounts/login/?next=%2Finvitations%2F[redacted]%2F",
        '"GET /static/css/site.css HTTP/1.1" 200',
        "Not Found: /accounts/verify/[redacted]/",
    ]
    deadline = time.monotonic() + 15
    log = ""
    while time.monotonic() < deadline:
        log = live_server_proc.log.read_text(errors="replace")
        if all(line in log for line in expected):
            break
        time.sleep(0.2)
    assert [line for line in expected if line not in log] == []
    assert "/invitations/[redacted]/" in next(line for line in log.splitlines() if "site.css" in line)
    leaked = [token for token in tokens if token in log]
    assert leaked == []
