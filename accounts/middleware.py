"""Per-request account checks (placed right after Django's AuthenticationMiddleware).

For a signed-in user:
* the session must still be in the session index (a revoked session is refused at
  once, whatever its cookie) and within the idle and absolute lifetimes;
* activity is recorded (session last-seen and presence, each at most once a minute),
  except for background requests (header X-Background: 1, e.g. htmx polling);
* `request.theme` is the user's theme preference, which base.html applies;
* the user's time zone preference is activated for the request (dates are stored in UTC,
  entered and shown in it); anonymous requests are in UTC.
"""

from __future__ import annotations

import logging
import zoneinfo
from collections.abc import Callable

from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from accounts.presence import presence_touch
from accounts.selectors import profile_preferences
from accounts.sessions import (
    SID_KEY,
    session_end_current,
    session_expired,
    session_is_active,
    session_register,
    session_touch,
)

logger = logging.getLogger(__name__)

# Messages cannot be used here (MessageMiddleware runs later); the sign-in page shows this.
NOTICE_KEY = "_tf_notice"


class AccountSessionMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.theme = "system"  # type: ignore[attr-defined]
        timezone.deactivate()  # a worker thread serves many people: start from UTC every time
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            self._check(request, user)
        return self.get_response(request)

    def _check(self, request: HttpRequest, user) -> None:
        # Polling (htmx "every 60s", notification checks) sends X-Background: 1, so an open
        # page left alone does not keep its session alive or its user "online".
        background = request.headers.get("X-Background") == "1"
        sid = request.session.get(SID_KEY)
        if sid is None:
            # Signed in without our sign-in view (admin tools, tests' force_login): index it now.
            session_register(request, user)
        elif not session_is_active(user.pk, sid):
            logger.info("refused revoked session of user %s", user.pk)
            logout(request)
            request.session[NOTICE_KEY] = "You were signed out of that session."
            return
        else:
            expired = session_expired(request)
            if expired:
                session_end_current(request, user.pk, reason=f"{expired}_timeout")
                logout(request)
                request.session[NOTICE_KEY] = "Your session expired. Please sign in again."
                return
            if background:
                return self._theme(request, user)
            session_touch(request, user.pk)
        presence_touch(user.pk)
        self._theme(request, user)

    @staticmethod
    def _theme(request: HttpRequest, user) -> None:
        """The preferences every page uses: the theme and the time zone (one cached read)."""
        prefs = profile_preferences(user.pk)
        request.theme = prefs["theme"]  # type: ignore[attr-defined]
        timezone.activate(zoneinfo.ZoneInfo(prefs["time_zone"]))  # normalised: a valid name
