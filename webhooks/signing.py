"""The signature of a delivery (documented in the README, section "Webhooks").

    X-TaskForge-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>

The key is the endpoint's secret as UTF-8 bytes; the message is the timestamp in decimal,
a full stop, and the exact bytes of the request body. A receiver recomputes it, compares in
constant time, and refuses a timestamp too far from its own clock (replays).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

SIGNATURE_HEADER = "X-TaskForge-Signature"
EVENT_HEADER = "X-TaskForge-Event"
DELIVERY_HEADER = "X-TaskForge-Delivery"
SECRET_PREFIX = "whsec_"  # noqa: S105 - a label in front of each random secret, not a secret
DEFAULT_TOLERANCE_SECONDS = 300


def secret_new() -> str:
    """A fresh endpoint secret: 32 random bytes, URL-safe text with a recognisable prefix."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature_compute(secret: str, timestamp: int, body: bytes) -> str:
    message = str(int(timestamp)).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, body: bytes, *, timestamp: int | None = None) -> str:
    """The X-TaskForge-Signature value for this body, signed now (or at `timestamp`)."""
    ts = int(time.time()) if timestamp is None else int(timestamp)
    return f"t={ts},v1={signature_compute(secret, ts, body)}"


def signature_verify(
    secret: str, body: bytes, header: str, *, tolerance: int = DEFAULT_TOLERANCE_SECONDS, now: float | None = None
) -> bool:
    """Does `header` sign `body` with `secret`, within `tolerance` seconds of now?

    What a receiver written in Python does (the README shows the same). Several v1= values
    are accepted (a receiver in the middle of a secret change may be sent either)."""
    timestamp: int | None = None
    candidates: list[str] = []
    for part in (header or "").split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            continue
        if key == "t" and value.isascii() and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = signature_compute(secret, timestamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)
