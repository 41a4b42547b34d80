"""Posting a delivery safely: the target URL's rules and the guard against server-side
request forgery (SSRF).

* Only http:// and https:// URLs with a host name, no user name or password in them.
* The host is resolved and EVERY address it resolves to is checked: private, loopback,
  link-local, multicast, reserved, unspecified and other non-global addresses are refused
  (IPv4-mapped IPv6 addresses are checked as the IPv4 address they carry), unless
  WEBHOOK_ALLOW_PRIVATE_TARGETS is on. The connection is then made to the address that was
  checked, not to the name again (a second DNS answer cannot point it elsewhere); the Host
  header and, for https, the TLS server name and certificate check still use the name.
* Redirects are not followed (a 3xx is a failed attempt): a redirect could lead anywhere.
* One short timeout (WEBHOOK_TIMEOUT_SECONDS) for connecting and for each read; at most
  64 KiB of the answer is read.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from django.conf import settings

URL_MAX_LENGTH = 2000
RESPONSE_READ_LIMIT = 64 * 1024


class TargetRefused(Exception):
    """The URL may not be used as a webhook target (its message says why, for the person)."""


@dataclass(frozen=True)
class Target:
    """A URL that passed the rules, and the address its host resolved to (to connect to)."""

    url: str
    scheme: str
    host: str
    port: int
    path: str
    address: str


def _address_refusal(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    checks = (
        (ip.is_loopback, "a loopback address"),
        (ip.is_link_local, "a link-local address"),
        (ip.is_multicast, "a multicast address"),
        (ip.is_unspecified, "an unspecified address"),
        (ip.is_reserved, "a reserved address"),
        (ip.is_private, "a private address"),
        (not ip.is_global, "an address that is not public"),
    )
    for refused, what in checks:
        if refused:
            return what
    return None


def url_parse(url: str) -> SplitResult:
    """The URL's parts if its form is acceptable (scheme, host, no credentials), else TargetRefused."""
    url = (url or "").strip()
    if not url:
        raise TargetRefused("Enter the URL that should receive the events.")
    if len(url) > URL_MAX_LENGTH:
        raise TargetRefused(f"The URL is too long (at most {URL_MAX_LENGTH} characters).")
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise TargetRefused("The URL may not contain spaces or control characters.")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        raise TargetRefused("This is not a valid URL.") from None
    if parts.scheme not in ("http", "https"):
        raise TargetRefused("Only http:// and https:// URLs can receive webhooks.")
    if not parts.hostname:
        raise TargetRefused("The URL needs a host name.")
    if parts.username is not None or parts.password is not None:
        raise TargetRefused("Put no user name or password in the URL; deliveries are signed instead.")
    if parts.fragment:
        raise TargetRefused("The URL may not have a #fragment.")
    return parts


def target_resolve(url: str, *, allow_private: bool | None = None) -> Target:
    """Check the URL and every address its host resolves to; the Target to connect to."""
    parts = url_parse(url)
    allow = settings.WEBHOOK_ALLOW_PRIVATE_TARGETS if allow_private is None else allow_private
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise TargetRefused(f"The host {host[:100]!r} could not be resolved.") from None
    addresses: list[str] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = str(sockaddr[0]).split("%", 1)[0]  # an IPv6 zone id is not part of the address
        if address in addresses:
            continue
        ip = ipaddress.ip_address(address)
        refusal = _address_refusal(ip)
        if refusal and not allow:
            raise TargetRefused(
                f"The host {host[:100]!r} resolves to {refusal} ({address}); webhooks may only go to public addresses."
            )
        addresses.append(address)
    if not addresses:
        raise TargetRefused(f"The host {host[:100]!r} could not be resolved.")
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Target(url=url.strip(), scheme=parts.scheme, host=host, port=port, path=path, address=addresses[0])


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to a checked address, with the TLS server name and certificate check of the host name."""

    def __init__(self, address: str, port: int, *, server_hostname: str, timeout: float) -> None:
        super().__init__(address, port, timeout=timeout, context=ssl.create_default_context())
        self._server_hostname = server_hostname

    def connect(self) -> None:
        sock = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self._server_hostname)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class PostResult:
    status: int
    duration_ms: int


def _host_header(target: Target) -> str:
    host = f"[{target.host}]" if ":" in target.host else target.host
    default = 443 if target.scheme == "https" else 80
    return host if target.port == default else f"{host}:{target.port}"


def post(target: Target, body: bytes, headers: dict[str, str], *, timeout: float) -> PostResult:
    """POST `body` to the checked address. Raises OSError / http.client.HTTPException on failure."""
    if target.scheme == "https":
        conn: http.client.HTTPConnection = _PinnedHTTPSConnection(
            target.address, target.port, server_hostname=target.host, timeout=timeout
        )
    else:
        conn = http.client.HTTPConnection(target.address, target.port, timeout=timeout)
    started = time.monotonic()
    try:
        conn.request("POST", target.path, body=body, headers={"Host": _host_header(target), **headers})
        response = conn.getresponse()
        response.read(RESPONSE_READ_LIMIT)
        return PostResult(status=response.status, duration_ms=int((time.monotonic() - started) * 1000))
    finally:
        conn.close()
