"""Settings of the live-events service: the site's, with its own URLs and no middleware.

Each stream authenticates itself from the session cookie (live/access.py); leaving out the
site's synchronous middleware keeps an open stream from holding a thread."""

from __future__ import annotations

from taskforge.settings import *  # noqa: F403

ROOT_URLCONF = "live.urls"
MIDDLEWARE: list[str] = []
