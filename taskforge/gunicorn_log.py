"""Gunicorn's logger without one-time tokens: `logger_class` in deploy/gunicorn.conf.py
(and the tests' live server).

The access log line holds the request line, the Referer and any header or environ value
the format names; the error log names the URI of a failed request. Both go through
taskforge.logging.redact_tokens after formatting, whatever access_log_format says.
"""

from __future__ import annotations

from typing import Any

from gunicorn.glogging import Logger

from taskforge.logging import RedactTokensFilter


class RedactingLogger(Logger):
    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        # Logger-level filters: they see every record logged on these two loggers, whatever
        # handlers the configuration gave them. Added once (setup runs again on reload).
        for log in (self.error_log, self.access_log):
            if not any(isinstance(f, RedactTokensFilter) for f in log.filters):
                log.addFilter(RedactTokensFilter())
