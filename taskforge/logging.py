"""Log records carry the request id and no one-time token; JSON output for production."""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from taskforge.requestctx import request_id_var

# One-time tokens travel in URL paths (the links in emails): email verification, password
# reset and team invitations. They must not reach any log: the access logs (gunicorn's, in
# the request line and the Referer of the requests a token page makes), nor Django's
# ("Not Found: /invitations/<token>/"). Slashes may be percent-encoded (?next=%2F...).
_SEP = r"(?:/|%2[Ff])"
_SEGMENT = r"(?:(?!%2[Ff])[^/?&#\s\"'])+"
_TOKEN_PATHS = re.compile(
    rf"(?P<keep>{_SEP}accounts{_SEP}verify{_SEP}(?!resend(?:{_SEP}|$))"
    rf"|{_SEP}accounts{_SEP}reset{_SEP}{_SEGMENT}{_SEP}(?!set-password(?:{_SEP}|$))"
    rf"|{_SEP}invitations{_SEP})"
    rf"{_SEGMENT}"
)
REDACTED = "[redacted]"


def redact_tokens(text: str) -> str:
    """The text with the token of every verification, reset and invitation link replaced."""
    if "verify" not in text and "reset" not in text and "invitations" not in text:
        return text  # the common case, without a regex scan
    return _TOKEN_PATHS.sub(lambda m: m.group("keep") + REDACTED, text)


class RedactTokensFilter(logging.Filter):
    """Rewrites each record's message without one-time tokens (on a handler: every logger)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_tokens(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


class RepeatFilter(logging.Filter):
    """Let one record per (logger, message) through every `seconds`; the next one that
    passes says how many were dropped meanwhile.

    For loggers that fire on every request while a dependency is down: django-redis logs
    "Exception ignored" with a traceback for each cache call it degrades (about 80 a
    second under the bench's load with Redis stopped), which costs CPU and buries
    everything else in the log.
    """

    def __init__(self, seconds: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.seconds = seconds
        self.clock = clock
        self._last: dict[tuple[str, str], float] = {}
        self._dropped: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, str(record.msg))
        now = self.clock()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self.seconds:
                self._dropped[key] = self._dropped.get(key, 0) + 1
                return False
            self._last[key] = now
            dropped = self._dropped.pop(key, 0)
        if dropped:
            record.msg = f"{record.msg} (and {dropped} more like it in the last {now - last:.0f} s)"
        return True
