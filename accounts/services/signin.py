"""Signing in and out: the password check under the rate limits (Redis, with the
PostgreSQL fallback), device cookies that keep the owner from being locked out by others'
guesses (accounts/devices.py), the sign-in log, and the start of a new session."""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import login, logout
from django.contrib.auth.hashers import check_password, make_password
from django.db import connection, transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts.devices import Device, device_for_sign_in
from accounts.models import LoginAttempt, User
from accounts.ratelimit import (
    device_bucket,
    email_bucket,
    ip_bucket,
    throttle_hit,
    window_clear,
    window_release,
    window_reserve,
    window_retry_after,
)
from accounts.redisutil import RedisUnavailable
from accounts.selectors import user_by_email
from accounts.services.registration import email_normalise, verification_send
from accounts.sessions import SID_KEY, session_end_current, session_register
from taskforge.dbcontext import context_for_user, db_context
from taskforge.errors import Forbidden, RateLimited, ServiceError
from taskforge.middleware import client_ip

SIGN_IN_FAILED = "The email address or password is incorrect."


def _ip_or_none(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


_dummy_hash: str | None = None


def _dummy_password_hash() -> str:
    """A real hash of a random password, so unknown emails cost one hasher run too."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = make_password(secrets.token_urlsafe(24))
    return _dummy_hash


def _attempt_record(*, email: str, user: User | None, ip: str, user_agent: str, succeeded: bool, reason: str) -> None:
    LoginAttempt.objects.create(
        email=email[:254],
        user=user,
        ip=_ip_or_none(ip),
        user_agent=user_agent[:512],
        succeeded=succeeded,
        reason=reason,
    )


# "pending" is an attempt reserved under the PostgreSQL fallback whose password check has
# not finished: it counts like a failure until it is resolved.
PENDING = "pending"
FAILURE_REASONS = ("bad_password", "unknown_email", "inactive", PENDING)
# Failures of a client with a valid device cookie for the account (accounts/devices.py)
# are recorded with this prefix: they never count against the limit for untrusted clients.
DEVICE_PREFIX = "device_"
DEVICE_FAILURE_REASONS = tuple(DEVICE_PREFIX + reason for reason in ("bad_password", "inactive", PENDING))


def _sign_in_limits(device: Device | None = None) -> tuple[list[int], int]:
    """([per account for untrusted clients, or per device cookie; per IP], window): an IP may
    be an office or a carrier's NAT, shared by many people signing in at once (each attempt
    counts until its password is checked)."""
    first = settings.LOGIN_DEVICE_FAILURE_LIMIT if device else settings.LOGIN_FAILURE_LIMIT
    return [first, settings.LOGIN_IP_FAILURE_LIMIT], settings.LOGIN_FAILURE_WINDOW_SECONDS


def _retry_after_from_db(email: str, ip: str, *, limit: list[int], window: int, trusted: bool = False) -> int:
    """The same sliding window counted from LoginAttempt, for when Redis is down. The log
    does not know which device cookie failed: trusted devices' failures are counted per
    account (all its device cookies together), still apart from untrusted clients'."""
    since = timezone.now() - timedelta(seconds=window)
    wait = 0.0
    counted = (
        ("email", email, DEVICE_FAILURE_REASONS if trusted else FAILURE_REASONS),
        ("ip", _ip_or_none(ip), FAILURE_REASONS + DEVICE_FAILURE_REASONS),
    )
    for (field, value, reasons), limit_here in zip(counted, limit, strict=True):
        if value is None:
            continue
        times = list(
            LoginAttempt.objects.filter(**{field: value}, succeeded=False, reason__in=reasons, created_at__gte=since)
            .order_by("-created_at")
            .values_list("created_at", flat=True)[:limit_here]
        )
        if len(times) >= limit_here:
            wait = max(wait, (times[-1] + timedelta(seconds=window) - timezone.now()).total_seconds())
    return int(wait) + 1 if wait > 0 else 0


def sign_in_retry_after(*, email: str, ip: str) -> int:
    limit, window = _sign_in_limits()
    try:
        return window_retry_after([email_bucket(email), ip_bucket(ip)], limit=limit, window=window)
    except RedisUnavailable:
        return _retry_after_from_db(email, ip, limit=limit, window=window)


@dataclass
class Reservation:
    """One password check, counted against the failure limit BEFORE the hasher runs.

    Left alone it stays counted (the attempt failed); `release()` uncounts it (the
    password was right). Under Redis it is a member of the sorted sets, under the
    PostgreSQL fallback a LoginAttempt row with reason "pending".
    """

    buckets: list[str]
    member: str = ""
    attempt_id: int | None = None

    def release(self) -> None:
        if self.member:
            window_release(self.buckets, self.member)
        if self.attempt_id is not None:
            LoginAttempt.objects.filter(pk=self.attempt_id, reason__in=(PENDING, DEVICE_PREFIX + PENDING)).delete()

    def fail(self, *, user: User | None, reason: str) -> None:
        """Keep it counted as this failure (the PostgreSQL row gets its real reason)."""
        if self.attempt_id is not None:
            LoginAttempt.objects.filter(pk=self.attempt_id).update(user=user, reason=reason)


def _advisory_key(value: str) -> int:
    # A signed 64-bit key for pg_advisory_xact_lock, stable across processes.
    return int.from_bytes(hashlib.sha256(f"taskforge.signin:{value}".encode()).digest()[:8], "big", signed=True)


def _reserve_in_db(
    *, email: str, ip: str, user_agent: str, limit: list[int], window: int, trusted: bool
) -> tuple[int, int | None]:
    """The Redis reservation's fallback: count and insert a pending attempt under advisory
    locks on the address and the IP, so parallel requests are counted one after another."""
    keys = sorted({_advisory_key(f"email:{email}"), _advisory_key(f"ip:{ip}")})
    with transaction.atomic():
        with connection.cursor() as cursor:
            for key in keys:  # always in the same order: no deadlock between two requests
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])
        wait = _retry_after_from_db(email, ip, limit=limit, window=window, trusted=trusted)
        if wait:
            return wait, None
        row = LoginAttempt.objects.create(
            email=email[:254],
            ip=_ip_or_none(ip),
            user_agent=user_agent[:512],
            succeeded=False,
            reason=DEVICE_PREFIX + PENDING if trusted else PENDING,
        )
    return 0, row.pk


def attempt_reserve(
    *, email: str, ip: str, user_agent: str = "", device: Device | None = None
) -> tuple[int, Reservation | None]:
    """Reserve one password check for this address (or, from a trusted device, for its device
    cookie) and this IP: (0, reservation) or (seconds to wait, None)."""
    limit, window = _sign_in_limits(device)
    buckets = [device_bucket(device.nonce) if device else email_bucket(email), ip_bucket(ip)]
    try:
        wait, member = window_reserve(buckets, limit=limit, window=window)
        return (wait, None) if wait else (0, Reservation(buckets, member=member))
    except RedisUnavailable:
        wait, attempt_id = _reserve_in_db(
            email=email, ip=ip, user_agent=user_agent, limit=limit, window=window, trusted=device is not None
        )
        return (wait, None) if wait else (0, Reservation(buckets, attempt_id=attempt_id))


def credentials_check(*, email: str, password: str) -> tuple[User | None, str]:
    """(user, "ok") or (None|user, reason). One password-hasher run whatever the outcome."""
    user = user_by_email(email)
    if user is None:
        check_password(password, _dummy_password_hash())
        return None, "unknown_email"
    if not user.check_password(password):
        return user, "bad_password"
    if not user.is_active or user.erased_at is not None:
        return user, "inactive"
    return user, "ok"


def sign_in(request: HttpRequest, *, email: str, password: str) -> User:
    """Check the credentials under the rate limit, then start a new session (new key, new index entry).

    The attempt is reserved (counted) before the password hasher runs and uncounted only
    if the password was right, so parallel guesses cannot all slip under the limit. A
    client with a valid device cookie for the account is counted on its own (see
    accounts/devices.py), so guesses from elsewhere cannot lock the owner out; the view
    gives the browser a new device cookie after a success.
    """
    email = email_normalise(email)
    ip = client_ip(request)
    agent = request.META.get("HTTP_USER_AGENT", "")
    device = device_for_sign_in(request, email)
    prefix = DEVICE_PREFIX if device else ""
    wait, reservation = attempt_reserve(email=email, ip=ip, user_agent=agent, device=device)
    if wait or reservation is None:
        _attempt_record(
            email=email, user=None, ip=ip, user_agent=agent, succeeded=False, reason=f"{prefix}rate_limited"
        )
        minutes = max(1, (wait + 59) // 60)
        raise RateLimited(
            f"Too many failed sign-ins. Try again in {minutes} minute{'s' if minutes != 1 else ''}.", retry_after=wait
        )
    try:
        user, reason = credentials_check(email=email, password=password)
    except BaseException:
        reservation.fail(user=None, reason="error")
        raise
    if reason != "ok":
        if reservation.attempt_id is not None:
            reservation.fail(user=user, reason=prefix + reason)  # the pending row becomes this failure
        else:
            _attempt_record(email=email, user=user, ip=ip, user_agent=agent, succeeded=False, reason=prefix + reason)
        raise ServiceError(SIGN_IN_FAILED)
    assert user is not None
    reservation.release()  # the right password is not a failure
    # Self-registered accounts confirm their address first; accounts made by an admin or
    # through an emailed invitation are verified when they are made.
    if not user.email_verified:
        _attempt_record(email=email, user=user, ip=ip, user_agent=agent, succeeded=False, reason="unverified")
        if throttle_hit(f"verify-resend:user:{user.pk}", limit=3, window=3600) == 0:
            with transaction.atomic():
                verification_send(user)
        raise Forbidden("Please confirm your email address first: we have emailed you a new link.")
    session_start(request, user, reason="password")
    # The right password from an untrusted client resets the account's count; from a
    # trusted device only that device's (guesses from elsewhere stay counted).
    window_clear([device_bucket(device.nonce) if device else email_bucket(email)])
    return user


def session_start(request: HttpRequest, user: User, *, reason: str) -> None:
    """Sign the user in on this request: rotate the session key and index the new session."""
    ctx = context_for_user(
        user,
        ip=client_ip(request),
        user_agent=request.META.get("HTTP_USER_AGENT", ""),
        request_id=getattr(request, "request_id", ""),
    )
    with db_context(ctx), transaction.atomic():
        previous_sid = request.session.get(SID_KEY) if request.user.is_authenticated else None
        if previous_sid and request.user.pk == user.pk:
            session_end_current(request, user.pk, reason="replaced")
        # login() cycles the session key (or flushes a session of another user).
        login(request, user, backend="accounts.backends.AccountBackend")
        session_register(request, user)
        _attempt_record(
            email=user.email, user=user, ip=ctx.ip, user_agent=ctx.user_agent, succeeded=True, reason=reason
        )


def sign_out(request: HttpRequest) -> None:
    if request.user.is_authenticated:
        session_end_current(request, request.user.pk, reason="signed_out")
    logout(request)
