"""Container healthcheck for the web service: GET /healthz on the local gunicorn.

Exit 0 when gunicorn answers 200, 1 otherwise. It sends a Host header from
DJANGO_ALLOWED_HOSTS (Django refuses other hosts) and X-Forwarded-Proto: https (the
production profile redirects plain HTTP), as nginx would. Stdlib only.

    python deploy/healthcheck.py [URL]      default http://127.0.0.1:8000/healthz
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request


def _host() -> str:
    for host in os.environ.get("DJANGO_ALLOWED_HOSTS", "").split(","):
        host = host.strip().lstrip(".")
        if host and host != "*":
            return host
    return "localhost"


def main(argv: list[str]) -> int:
    url = argv[1] if len(argv) > 1 else "http://127.0.0.1:8000/healthz"
    if not url.startswith(("http://", "https://")):
        print(f"healthcheck: not an http(s) URL: {url}", file=sys.stderr)
        return 1
    request = urllib.request.Request(url, headers={"Host": _host(), "X-Forwarded-Proto": "https"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=4) as response:  # noqa: S310 - scheme checked above
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except OSError as exc:
        print(f"healthcheck: {url}: {exc}", file=sys.stderr)
        return 1
    if status != 200:
        print(f"healthcheck: {url} answered {status}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
