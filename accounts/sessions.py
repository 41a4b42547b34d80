"""The per-user session index: which browsers are signed in, and revocation.

Django keeps the session itself (cached_db: Redis in front of PostgreSQL). Next to
it, each signed-in session carries a random id (`_tf_sid`) in its data; the index
records its SHA-256 in PostgreSQL (UserSession, for listing and durability) and in
the Redis set user:sessions:<user id> (the fast check made on every request). A
session whose id is not active any more is refused at once and flushed, however
valid its cookie is. The id survives Django's key rotations (sign-in, password
change), and the cookie value itself is stored nowhere but in Django's session table.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import time
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import User, UserSession
from accounts.redisutil import RedisUnavailable, redis_client, rkey
from taskforge.middleware import client_ip

logger = logging.getLogger(__name__)

SID_KEY = "_tf_sid"
STARTED_KEY = "_tf_started"
LAST_KEY = "_tf_last"
TOUCH_EVERY_SECONDS = 60


def sid_hash(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


def _index_key(user_id: int) -> str:
    return rkey(f"user:sessions:{user_id}")


_BROWSERS = (
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("HeadlessChrome", "Headless Chrome"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
    ("curl/", "curl"),
    ("python-requests", "Python"),
)
_SYSTEMS = (
    ("Windows", "Windows"),
    ("Android", "Android"),
    ("iPhone", "iOS"),
    ("iPad", "iPadOS"),
    ("Mac OS X", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)


def browser_label(user_agent: str) -> str:
    """A short human label such as "Firefox on Linux" (never trusted for anything)."""
    browser = next((name for marker, name in _BROWSERS if marker in user_agent), "")
    system = next((name for marker, name in _SYSTEMS if marker in user_agent), "")
    if browser and system:
        return f"{browser} on {system}"
    return browser or system or (re.sub(r"\s+", " ", user_agent)[:40] if user_agent else "Unknown browser")


def _ip_or_none(value: str) -> str | None:
    import ipaddress

    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def session_register(request: HttpRequest, user: User) -> UserSession:
    """Give the (freshly signed-in) session a new id and add it to the index."""
    now = time.time()
    sid = secrets.token_urlsafe(32)
    request.session[SID_KEY] = sid
    request.session[STARTED_KEY] = now
    request.session[LAST_KEY] = now
    agent = request.META.get("HTTP_USER_AGENT", "")[:512]
    row = UserSession.objects.create(
        user=user,
        sid_hash=sid_hash(sid),
        user_agent=agent,
        browser=browser_label(agent),
        ip=_ip_or_none(client_ip(request)),
    )
    try:
        pipe = redis_client().pipeline()
        pipe.sadd(_index_key(user.pk), row.sid_hash)
        pipe.expire(_index_key(user.pk), settings.SESSION_ABSOLUTE_SECONDS + 3600)
        pipe.execute()
    except RedisUnavailable:
        logger.warning("session index: Redis unavailable; PostgreSQL holds the session")
    return row


def session_is_active(user_id: int, sid: str) -> bool:
    """Is this session id still active? Redis first; PostgreSQL when Redis lacks it or is down."""
    digest = sid_hash(sid)
    try:
        if redis_client().sismember(_index_key(user_id), digest):
            return True
        redis_ok = True
    except RedisUnavailable:
        redis_ok = False
    active = UserSession.objects.filter(user_id=user_id, sid_hash=digest, ended_at__isnull=True).exists()
    if active and redis_ok:
        # Redis lost it (restart, eviction): put it back.
        try:
            redis_client().sadd(_index_key(user_id), digest)
        except RedisUnavailable:
            pass
    return active


def session_touch(request: HttpRequest, user_id: int) -> None:
    """Record activity at most once a minute per session (a session save and one UPDATE)."""
    now = time.time()
    last = request.session.get(LAST_KEY, 0)
    if now - last < TOUCH_EVERY_SECONDS:
        return
    request.session[LAST_KEY] = now
    sid = request.session.get(SID_KEY)
    if sid:
        UserSession.objects.filter(sid_hash=sid_hash(sid), ended_at__isnull=True).update(
            last_seen_at=timezone.now(), ip=_ip_or_none(client_ip(request))
        )


def _index_remove(user_id: int, digests: Iterable[str]) -> None:
    digests = list(digests)
    if not digests:
        return
    try:
        redis_client().srem(_index_key(user_id), *digests)
    except RedisUnavailable:
        # PostgreSQL already says "ended"; session_is_active checks it when Redis is back.
        logger.warning("session index: Redis unavailable while ending sessions of user %s", user_id)
        raise


def sessions_end(
    user_id: int, *, session_ids: Iterable[int] | None = None, except_sid: str | None = None, reason: str
) -> int:
    """End the user's active sessions (all, some by id, or all but one). Returns how many ended."""
    qs = UserSession.objects.filter(user_id=user_id, ended_at__isnull=True)
    if session_ids is not None:
        qs = qs.filter(id__in=list(session_ids))
    if except_sid:
        qs = qs.exclude(sid_hash=sid_hash(except_sid))
    digests = list(qs.values_list("sid_hash", flat=True))
    ended = qs.update(ended_at=timezone.now(), end_reason=reason)
    try:
        _index_remove(user_id, digests)
    except RedisUnavailable:
        pass
    return ended


def session_end_current(request: HttpRequest, user_id: int, *, reason: str) -> None:
    sid = request.session.get(SID_KEY)
    if not sid:
        return
    digest = sid_hash(sid)
    UserSession.objects.filter(sid_hash=digest, ended_at__isnull=True).update(
        ended_at=timezone.now(), end_reason=reason
    )
    try:
        _index_remove(user_id, [digest])
    except RedisUnavailable:
        pass


def session_expired(request: HttpRequest) -> str:
    """ "idle", "absolute" or "" for the current session, from the times kept in it."""
    now = time.time()
    started = request.session.get(STARTED_KEY)
    last = request.session.get(LAST_KEY)
    if started is not None and now - started > settings.SESSION_ABSOLUTE_SECONDS:
        return "absolute"
    if last is not None and now - last > settings.SESSION_IDLE_SECONDS:
        return "idle"
    return ""


def sessions_prune(*, older_than_days: int = 30) -> int:
    """Delete ended sessions after a while (history for the user, not forever)."""
    cutoff = timezone.now() - timedelta(days=older_than_days)
    deleted, _ = UserSession.objects.filter(ended_at__lt=cutoff).delete()
    return deleted
