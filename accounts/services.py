"""Writes of the accounts app: registration, sign-in, profiles, teams, invitations, erasure.

Every function takes keyword arguments, runs in one transaction and queues its side
effects (mail, cache invalidation, files) for after the commit. Permission checks go
through accounts.permissions (the one check). Failures raise ServiceError (or a
subclass) carrying a message for the user and an HTTP status; views render them.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import login, logout
from django.contrib.auth.hashers import check_password, make_password
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from accounts import emails
from accounts.devices import Device, device_for_sign_in
from accounts.documents import DEFAULT_PREFERENCES, PROFILE_AGGREGATE, profile_collection
from accounts.models import (
    Capability,
    CapabilityGrant,
    ErasureRecord,
    Invitation,
    LoginAttempt,
    Membership,
    RolePermission,
    Team,
    TeamRole,
    User,
    UserSession,
)
from accounts.permissions import DEFAULT_ROLE_PERMISSIONS, PERMISSIONS, permission_require, permissions_invalidate
from accounts.presence import presence_forget
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
from accounts.selectors import (
    preferences_normalise,
    profile_invalidate,
    team_admin_count,
    teams_where_last_admin,
    user_by_email,
)
from accounts.sessions import SID_KEY, session_end_current, session_register, sessions_end
from audit.services import audit_content_record
from sync.models import OutboxEvent
from sync.outbox import outbox_record
from taskforge.dbcontext import context_for_system, context_for_user, db_context
from taskforge.errors import Conflict, Forbidden, Gone, NotFound, RateLimited, ServiceError, Unavailable
from taskforge.middleware import client_ip
from taskforge.mongo import MongoUnavailable

logger = logging.getLogger(__name__)

SIGN_IN_FAILED = "The email address or password is incorrect."
VERIFY_SALT = "accounts.verify-email"
VERIFY_MAX_AGE = 3 * 24 * 3600


def _require(user: User, team_id: int, permission: str) -> None:
    try:
        permission_require(user, team_id, permission)
    except PermissionDenied as exc:
        raise Forbidden(str(exc)) from None


def token_hash(value: str) -> str:
    """SHA-256 of a one-time token: what the database keeps instead of the token."""
    return hashlib.sha256(value.encode()).hexdigest()


def _ip_or_none(value: str) -> str | None:
    import ipaddress

    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


# --- registration and verification ----------------------------------------------------


def email_normalise(email: str) -> str:
    return email.strip().lower()


def verification_token(user: User) -> str:
    return signing.dumps({"u": user.pk, "e": user.email}, salt=VERIFY_SALT)


def verification_send(user: User) -> None:
    path = reverse("accounts:verify", args=[verification_token(user)])
    emails.verification_email(user_id=user.pk, name=user.display_name, verify_path=path)


def user_register(*, email: str, password: str, first_name: str, last_name: str, ip: str) -> User | None:
    """Create a traveller and email them a verification link.

    A taken address gets the same answer (None instead of the user, which the view
    does not reveal) and its owner is told by email (at most once an hour), so
    registration cannot be used to find out who has an account, nor to flood its owner.
    It also takes as long: the password is hashed on both paths (the hasher is most of
    the time a registration takes).
    """
    wait = throttle_hit(f"register:ip:{ip}", limit=20, window=3600)
    if wait:
        raise RateLimited("Too many registrations from your network. Try again later.", retry_after=wait)
    email = email_normalise(email)
    existing = user_by_email(email)
    if existing is None:
        try:
            with transaction.atomic():
                user = User.objects.create_user(email, password, display_name=f"{first_name} {last_name}".strip()[:150])
                _profile_write(user, changes={"first_name": first_name.strip(), "last_name": last_name.strip()})
                verification_send(user)
            return user
        except IntegrityError:
            existing = user_by_email(email)  # registered concurrently
            if existing is None:
                raise
    else:
        # The same work as creating the account would have done: without it a taken
        # address answered in a fraction of the time and gave itself away.
        make_password(password)
    # The owner hears of it at most once an hour, however often the address is tried (the
    # answer above stays the same). The address is hashed so Redis holds no personal data.
    bucket = "register:exists:" + hashlib.sha256(email.encode()).hexdigest()[:40]
    if throttle_hit(bucket, limit=1, window=3600) == 0:
        with transaction.atomic():
            emails.account_exists_email(user_id=existing.pk, nonce=secrets.token_hex(8))
    return None


def _verification_data(token: str) -> dict[str, Any]:
    try:
        data = signing.loads(token, salt=VERIFY_SALT, max_age=VERIFY_MAX_AGE)
    except signing.SignatureExpired:
        raise Gone("This confirmation link has expired. Sign in to get a new one.") from None
    except signing.BadSignature:
        raise NotFound("This confirmation link is not valid.") from None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int):
        raise NotFound("This confirmation link is not valid.")
    return data


def email_verify_check(*, token: str) -> None:
    """Is this a valid, unexpired link for a current address? Changes nothing (the link
    page is a GET, which mail scanners and link previews fetch on their own)."""
    data = _verification_data(token)
    # The address is part of the token: a link for an old address confirms nothing.
    if not User.objects.filter(pk=data["u"], is_active=True, email=data.get("e")).exists():
        raise NotFound("This confirmation link is not valid.")


def email_verify(*, token: str) -> User:
    """Confirm the address (the POST of the link page's button)."""
    data = _verification_data(token)
    with transaction.atomic():
        user = User.objects.select_for_update().filter(pk=data["u"], is_active=True).first()
        # The address is part of the token: a link for an old address confirms nothing.
        if user is None or user.email != data.get("e"):
            raise NotFound("This confirmation link is not valid.")
        if not user.email_verified:
            user.email_verified = True
            user.save(update_fields=["email_verified"])
    return user


def verification_resend(*, email: str, ip: str) -> None:
    """Send a new link if the address belongs to an unverified account (silently otherwise)."""
    wait = throttle_hit(f"verify-resend:ip:{ip}", limit=10, window=3600)
    if wait:
        raise RateLimited("Too many requests. Try again later.", retry_after=wait)
    user = user_by_email(email)
    if user is not None and user.is_active and not user.email_verified:
        if throttle_hit(f"verify-resend:user:{user.pk}", limit=3, window=3600) == 0:
            with transaction.atomic():
                verification_send(user)


# --- sign-in ---------------------------------------------------------------------------

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


def sessions_after_password_change(request: HttpRequest, user: User) -> int:
    """A new password ends every other session (the current one continues)."""
    return sessions_end(user.pk, except_sid=request.session.get(SID_KEY), reason="password_changed")


def sessions_after_password_reset(user: User) -> int:
    return sessions_end(user.pk, reason="password_reset")


def session_revoke(*, user: User, session_id: int, current_sid: str | None) -> bool:
    """Sign out one of the user's sessions (404 for someone else's). Returns True if it was the current one."""
    if not 0 < session_id < 2**63:  # the URL takes any digits; the id column is a bigint
        raise NotFound("No such session.")
    row = UserSession.objects.filter(pk=session_id, user=user, ended_at__isnull=True).first()
    if row is None:
        raise NotFound("No such session.")
    sessions_end(user.pk, session_ids=[row.pk], reason="revoked")
    from accounts.sessions import sid_hash

    return bool(current_sid) and row.sid_hash == sid_hash(current_sid)


def sessions_revoke_others(*, user: User, current_sid: str | None) -> int:
    return sessions_end(user.pk, except_sid=current_sid, reason="revoked")


# --- profile ---------------------------------------------------------------------------


def _state_from_document(user_id: int, doc: dict[str, Any] | None) -> dict[str, Any]:
    doc = doc or {}
    return {
        "user_id": user_id,
        "first_name": doc.get("first_name") or "",
        "last_name": doc.get("last_name") or "",
        "bio": doc.get("bio") or "",
        "avatar": doc.get("avatar") or "",
        "preferences": preferences_normalise(doc.get("preferences")),
    }


def profile_state(user: User) -> dict[str, Any]:
    """The profile at user.profile_version: from its outbox event if still there, else the document.

    The newest outbox payload is the truth even before the relay applied it, so a
    second edit while the document server is down builds on the first.
    """
    if user.profile_version == 0:
        return _state_from_document(user.pk, {"preferences": DEFAULT_PREFERENCES})
    event = (
        OutboxEvent.objects.filter(
            aggregate_type=PROFILE_AGGREGATE, aggregate_id=str(user.pk), version=user.profile_version
        )
        .values_list("payload", flat=True)
        .first()
    )
    if event is not None and not event.get("deleted"):
        return _state_from_document(user.pk, event)
    try:
        doc = profile_collection().find_one({"_id": user.pk})
    except MongoUnavailable:
        raise Unavailable("Profile details are temporarily unavailable. Please try again in a minute.") from None
    return _state_from_document(user.pk, doc)


def _profile_write(user: User, *, changes: dict[str, Any]) -> dict[str, Any]:
    """Bump the version, record the outbox event with the full new state, audit the change."""
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        old = profile_state(locked)
        new = {**old, **changes, "user_id": locked.pk}
        new["preferences"] = preferences_normalise(new.get("preferences"))
        version = locked.profile_version + 1
        payload = {**new, "updated_at": timezone.now().isoformat()}
        fields = {"profile_version": version}
        full_name = f"{new['first_name']} {new['last_name']}".strip()
        if full_name and ("first_name" in changes or "last_name" in changes):
            fields["display_name"] = full_name[:150]
        User.objects.filter(pk=locked.pk).update(**fields)
        for name, value in fields.items():
            setattr(user, name, value)
        outbox_record(
            aggregate_type=PROFILE_AGGREGATE,
            aggregate_id=str(locked.pk),
            version=version,
            event_type="profile.updated",
            payload=payload,
        )
        first = locked.profile_version == 0
        audit_content_record(
            table="accounts_profile",
            record_id=str(locked.pk),
            operation="INSERT" if first else "UPDATE",
            old=None if first else old,
            new=new,
        )
        transaction.on_commit(lambda: profile_invalidate(locked.pk))
    return new


def profile_update(
    *,
    user: User,
    first_name: str,
    last_name: str,
    bio: str,
    theme: str,
    notify_email: bool,
    notify_in_app: bool,
    email_cadence: str,
) -> dict[str, Any]:
    from accounts.documents import CADENCES, THEMES

    if theme not in THEMES:
        raise ServiceError(f"Theme must be one of {', '.join(THEMES)}.", field="theme")
    if email_cadence not in CADENCES:
        raise ServiceError(f"Email cadence must be one of {', '.join(CADENCES)}.", field="email_cadence")
    preferences = {
        "theme": theme,
        "channels": {"email": bool(notify_email), "in_app": bool(notify_in_app)},
        "email_cadence": email_cadence,
    }
    return _profile_write(
        user,
        changes={
            "first_name": first_name.strip(),
            "last_name": last_name.strip(),
            "bio": bio.strip(),
            "preferences": preferences,
        },
    )


def profile_theme_set(*, user: User, theme: str) -> dict[str, Any]:
    from accounts.documents import THEMES

    if theme not in THEMES:
        raise ServiceError(f"Theme must be one of {', '.join(THEMES)}.", field="theme")
    with transaction.atomic():
        current = profile_state(User.objects.select_for_update().get(pk=user.pk))
        prefs = {**current["preferences"], "theme": theme}
        return _profile_write(user, changes={"preferences": prefs})


AVATAR_SIZE = (256, 256)
# Decoding needs width x height x 4 bytes (RGBA) and more for the conversions: 16 MP is
# about 64 MB per upload, and every camera photo fits. Checked from the header, before
# any pixel is decoded.
AVATAR_MAX_PIXELS = 16_000_000
AVATAR_FORMATS = {"JPEG", "PNG", "GIF", "WEBP"}
TOO_MANY_PIXELS = "That picture has too many pixels: at most 16 megapixels (for example 4000 × 4000)."


def avatar_dir() -> Path:
    path = Path(settings.MEDIA_ROOT) / "avatars"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _avatar_thumbnail(data: bytes) -> bytes:
    from PIL import Image, ImageOps, UnidentifiedImageError

    bad = ServiceError("That file is not an image we can use. Upload a JPEG, PNG, GIF or WebP picture.", field="avatar")
    too_many = ServiceError(TOO_MANY_PIXELS, field="avatar")
    try:
        with Image.open(BytesIO(data)) as probe:  # reads the header only
            if probe.format not in AVATAR_FORMATS:
                raise bad
            width, height = probe.size
            if width * height > AVATAR_MAX_PIXELS:
                raise too_many
            probe.verify()  # structure check; the image must be reopened afterwards
        with Image.open(BytesIO(data)) as image:
            # JPEG can decode at 1/2, 1/4 or 1/8 scale: ask for the smallest that still
            # covers twice the thumbnail, so a 16 MP photo costs a fraction of 64 MB.
            image.draft("RGB", (AVATAR_SIZE[0] * 2, AVATAR_SIZE[1] * 2))
            image.load()
            image = ImageOps.exif_transpose(image)
            if image.mode not in ("RGB", "RGBA", "L", "LA"):  # palette, 1-bit, 16-bit: resample in colour
                image = image.convert("RGBA" if image.mode in ("P", "PA") else "RGB")
            image.thumbnail(AVATAR_SIZE, reducing_gap=2.0)  # reduce() by whole factors first, then resample
            image = image.convert("RGBA") if image.mode in ("RGBA", "LA") else image.convert("RGB")
            out = BytesIO()
            image.save(out, format="PNG", optimize=True)  # re-encoded: no metadata, no payload survives
            return out.getvalue()
    except ServiceError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise too_many from None  # past Pillow's own limit: far past ours
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise bad from None


def avatar_set(*, user: User, upload: Any) -> dict[str, Any]:
    """Check the upload is a real image within AVATAR_MAX_BYTES and store a re-encoded thumbnail."""
    limit = settings.AVATAR_MAX_BYTES
    if upload is None:
        raise ServiceError("Choose a picture to upload.", field="avatar")
    if (upload.size or 0) > limit:
        raise ServiceError(f"That picture is too large (the limit is {limit // 1024} KB).", status=413, field="avatar")
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise ServiceError(f"That picture is too large (the limit is {limit // 1024} KB).", status=413, field="avatar")
    thumbnail = _avatar_thumbnail(data)
    name = f"{secrets.token_hex(16)}.png"  # the server names the file, never the client
    path = avatar_dir() / name
    path.write_bytes(thumbnail)
    try:
        with transaction.atomic():
            old = profile_state(User.objects.select_for_update().get(pk=user.pk)).get("avatar") or ""
            state = _profile_write(user, changes={"avatar": name})
            if old:
                transaction.on_commit(lambda: avatar_file_delete(old))
    except Exception:
        path.unlink(missing_ok=True)
        raise
    return state


def avatar_remove(*, user: User) -> dict[str, Any]:
    with transaction.atomic():
        old = profile_state(User.objects.select_for_update().get(pk=user.pk)).get("avatar") or ""
        state = _profile_write(user, changes={"avatar": ""})
        if old:
            transaction.on_commit(lambda: avatar_file_delete(old))
    return state


def avatar_file_delete(name: str) -> None:
    if name and "/" not in name and "\\" not in name and not name.startswith("."):
        (avatar_dir() / name).unlink(missing_ok=True)


# --- teams -----------------------------------------------------------------------------

RESERVED_TEAM_SLUGS = {"new"}  # /teams/new/ is the create page


def team_create(*, user: User, name: str, slug: str = "", description: str = "") -> Team:
    """A person with the team-creator capability creates a team, becomes its admin, and the
    role table gets the defaults."""
    if not user.has_capability(Capability.TEAM_CREATOR):
        raise Forbidden("Creating teams needs the team-creator capability; ask a site admin.")
    name = name.strip()
    if not name:
        raise ServiceError("Give the team a name.", field="name")
    slug = slugify(slug.strip() or name)[:140]
    if not slug:
        raise ServiceError("The short name must contain letters or digits.", field="slug")
    if slug in RESERVED_TEAM_SLUGS:
        raise ServiceError(f"“{slug}” is reserved; choose another short name.", field="slug")
    try:
        with transaction.atomic():
            team = Team.objects.create(name=name[:120], slug=slug, description=description.strip(), created_by=user)
            Membership.objects.create(team=team, user=user, role=TeamRole.ADMIN)
            RolePermission.objects.bulk_create(
                RolePermission(team=team, role=role, permission=perm)
                for role, perms in DEFAULT_ROLE_PERMISSIONS.items()
                for perm in sorted(perms)
            )
            transaction.on_commit(lambda: permissions_invalidate(team.pk))
    except IntegrityError:
        raise Conflict(f"A team with the short name “{slug}” already exists.", field="slug") from None
    return team


def role_permissions_set(*, actor: User, team: Team, grants: dict[str, set[str]]) -> None:
    """Replace the team's role -> permissions table (team.manage); admins always keep team.manage."""
    _require(actor, team.pk, "team.manage")
    unknown_roles = set(grants) - set(TeamRole.values)
    if unknown_roles:
        raise ServiceError(f"Unknown role: {', '.join(sorted(unknown_roles))}.")
    unknown = {perm for perms in grants.values() for perm in perms} - set(PERMISSIONS)
    if unknown:
        raise ServiceError(f"Unknown permission: {', '.join(sorted(unknown))}.")
    if "team.manage" not in grants.get(TeamRole.ADMIN, set()):
        raise ServiceError(
            f"Team admins must keep the permission “{PERMISSIONS['team.manage']}”, or nobody could manage the team."
        )
    with transaction.atomic():
        Team.objects.select_for_update().get(pk=team.pk)
        current = set(RolePermission.objects.filter(team=team).values_list("role", "permission"))
        wanted = {(role, perm) for role in TeamRole.values for perm in grants.get(role, set())}
        for role, perm in current - wanted:
            RolePermission.objects.filter(team=team, role=role, permission=perm).delete()
        RolePermission.objects.bulk_create(
            RolePermission(team=team, role=role, permission=perm) for role, perm in sorted(wanted - current)
        )
        # Now (this request) and again after commit (a reader may have cached the old table meanwhile).
        permissions_invalidate(team.pk)
        transaction.on_commit(lambda: permissions_invalidate(team.pk))


def member_role_change(*, actor: User, team: Team, user_id: int, role: str) -> Membership:
    _require(actor, team.pk, "team.manage")
    if role not in TeamRole.values:
        raise ServiceError("Choose admin, member or guest.", field="role")
    with transaction.atomic():
        Team.objects.select_for_update().get(pk=team.pk)  # serialises the last-admin check
        membership = Membership.objects.filter(team=team, user_id=user_id).first()
        if membership is None:
            raise NotFound("That person is not a member of this team.")
        if membership.role == TeamRole.ADMIN and role != TeamRole.ADMIN and team_admin_count(team.pk) == 1:
            raise Conflict("A team needs at least one admin: make someone else admin first.")
        if membership.role != role:
            membership.role = role
            membership.save(update_fields=["role"])
    return membership


def member_remove(*, actor: User, team: Team, user_id: int) -> None:
    _require(actor, team.pk, "team.manage")
    _membership_delete(team=team, user_id=user_id)


def team_leave(*, user: User, team: Team) -> None:
    """Anyone may leave a team, except its last admin."""
    _membership_delete(team=team, user_id=user.pk)


def _membership_delete(*, team: Team, user_id: int) -> None:
    with transaction.atomic():
        Team.objects.select_for_update().get(pk=team.pk)
        membership = Membership.objects.filter(team=team, user_id=user_id).first()
        if membership is None:
            raise NotFound("That person is not a member of this team.")
        if membership.role == TeamRole.ADMIN and team_admin_count(team.pk) == 1:
            raise Conflict("The last admin cannot leave the team: make someone else admin first.")
        membership.delete()


# --- invitations -------------------------------------------------------------------------


def invitation_create(*, actor: User, team: Team, email: str, role: str) -> tuple[Invitation, str]:
    """Email a single-use link (valid INVITATION_TTL_DAYS). Returns the invitation and its token."""
    _require(actor, team.pk, "team.invite")
    if role not in TeamRole.values:
        raise ServiceError("Choose admin, member or guest.", field="role")
    if role == TeamRole.ADMIN:
        _require(actor, team.pk, "team.manage")
    email = email_normalise(email)
    account = user_by_email(email)
    if account is not None and Membership.objects.filter(team=team, user=account).exists():
        raise Conflict(f"{email} is already a member of this team.", field="email")
    if account is not None and not account.is_active:
        raise Conflict("That account is closed and cannot join a team.", field="email")
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    with transaction.atomic():
        # A new invitation replaces a pending one for the same address.
        Invitation.objects.filter(team=team, email=email, accepted_at__isnull=True, revoked_at__isnull=True).update(
            revoked_at=now
        )
        invitation = Invitation.objects.create(
            team=team,
            email=email,
            role=role,
            token_hash=token_hash(token),
            invited_by=actor,
            created_at=now,
            expires_at=now + timedelta(days=settings.INVITATION_TTL_DAYS),
        )
        emails.invitation_email(
            invitation_id=invitation.pk,
            email=email,
            team_name=team.name,
            inviter_name=str(actor),
            role=role,
            accept_path=reverse("accounts:invitation", args=[token]),
            expires_at=invitation.expires_at.strftime("%Y-%m-%d %H:%M UTC"),
        )
    return invitation, token


def invitation_revoke(*, actor: User, team: Team, invitation_id: int) -> None:
    _require(actor, team.pk, "team.invite")
    updated = Invitation.objects.filter(
        pk=invitation_id, team=team, accepted_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=timezone.now())
    if not updated:
        raise NotFound("No such pending invitation.")


def invitation_check(invitation: Invitation | None) -> Invitation:
    if invitation is None:
        raise NotFound("This invitation link is not valid.")
    if invitation.accepted_at is not None:
        raise Gone("This invitation has already been used.")
    if invitation.revoked_at is not None:
        raise Gone("This invitation was withdrawn.")
    if invitation.expires_at <= timezone.now():
        raise Gone("This invitation has expired. Ask the team for a new one.")
    return invitation


@dataclass
class Accepted:
    invitation: Invitation
    user: User
    created: bool


def invitation_accept(*, token: str, user: User | None, display_name: str = "", password: str = "") -> Accepted:
    """Use the link: join with the signed-in account of that address, or create an account for it.

    The invitation grants a membership of its team and nothing else: no site capability."""
    with transaction.atomic():
        invitation = invitation_check(
            Invitation.objects.select_for_update().select_related("team").filter(token_hash=token_hash(token)).first()
        )
        account = user_by_email(invitation.email)
        signed_in = user is not None and user.is_authenticated
        created = False
        if account is None:
            if signed_in:
                raise Conflict(f"This invitation is for {invitation.email}. Sign out first to create that account.")
            if not password:
                raise ServiceError("Choose a password.", field="password")
            account = User.objects.create_user(
                invitation.email,
                password,
                display_name=display_name.strip()[:150],
                email_verified=True,  # the link reached this address
            )
            created = True
        else:
            if not signed_in or user.pk != account.pk:
                raise Forbidden(f"This invitation is for {invitation.email}: sign in with that account to accept it.")
        Membership.objects.get_or_create(team=invitation.team, user=account, defaults={"role": invitation.role})
        invitation.accepted_at = timezone.now()
        invitation.accepted_by = account
        invitation.save(update_fields=["accepted_at", "accepted_by"])
    return Accepted(invitation=invitation, user=account, created=created)


# --- personal data: erasure ----------------------------------------------------------------


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
        doc = profile_collection().find_one({"_id": user.pk}) or {}
        for key in ("first_name", "last_name"):
            if doc.get(key):
                names.add(doc[key])
    except MongoUnavailable:
        pass
    if user.display_name:
        names.add(user.display_name)
    return sorted(names, key=len, reverse=True)


def account_erase(request: HttpRequest, *, user: User, password: str) -> ErasureRecord:
    """Delete the profile, pseudonymise everything kept, end all sessions, record the erasure."""
    from accounts.export import ErasureSubject, ExportUnavailable, erasers_run

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


def accounts_data_erase(subject: Any) -> dict[str, int]:
    """The accounts app's own eraser (registered in accounts.export)."""
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
        from accounts.redisutil import redis_client, rkey

        try:
            redis_client().delete(rkey(f"user:sessions:{subject.user_id}"))
        except RedisUnavailable:
            pass

    if digests:
        transaction.on_commit(_forget_index)
    # Django admin history names the object by its str(): the email or name.
    from django.contrib.admin.models import LogEntry
    from django.contrib.contenttypes.models import ContentType

    counts["admin_log"] = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(User), object_id=str(subject.user_id)
    ).update(object_repr=subject.pseudonym, change_message="")
    return counts
