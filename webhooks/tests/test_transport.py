"""The target rules and the SSRF guard (webhooks/transport.py): http(s) only, every resolved
address checked, the checked address is the one connected to."""

from __future__ import annotations

import socket

import pytest

from webhooks.transport import Target, TargetRefused, post, target_resolve, url_parse


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("", "Enter the URL"),
        ("ftp://example.com/hook", "Only http:// and https://"),
        ("file:///etc/passwd", "Only http:// and https://"),
        ("gopher://127.0.0.1:6379/", "Only http:// and https://"),
        ("javascript:alert(1)", "Only http:// and https://"),
        ("http:///path-only", "needs a host"),
        ("https://user:pass@example.com/", "no user name or password"),
        ("https://example.com:99999/", "not a valid URL"),
        ("https://exa mple.com/", "spaces"),
        ("https://example.com/#frag", "fragment"),
        ("https://example.com/" + "a" * 2000, "too long"),
    ],
)
def test_urls_that_are_refused_by_their_form(url: str, says: str) -> None:
    with pytest.raises(TargetRefused, match=says):
        url_parse(url)


@pytest.mark.parametrize(
    ("host", "what"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("[::1]", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("[fd00::1]", "private"),
        ("169.254.169.254", "link-local"),  # the cloud metadata service
        ("[fe80::1]", "link-local"),
        ("224.0.0.1", "multicast"),
        ("[ff02::1]", "multicast"),
        ("0.0.0.0", "unspecified"),  # noqa: S104 - a target the guard must refuse, nothing binds to it
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "not public"),  # carrier-grade NAT
        ("[::ffff:127.0.0.1]", "loopback"),  # IPv4-mapped IPv6
        ("[::ffff:10.0.0.1]", "private"),
    ],
)
def test_non_public_targets_are_refused(settings, host: str, what: str) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    with pytest.raises(TargetRefused, match=what):
        target_resolve(f"http://{host}:8080/hook")


def test_a_public_address_passes_and_keeps_path_and_query(settings) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    target = target_resolve("https://93.184.215.14/hooks/in?source=taskforge")
    assert target == Target(
        url="https://93.184.215.14/hooks/in?source=taskforge",
        scheme="https",
        host="93.184.215.14",
        port=443,
        path="/hooks/in?source=taskforge",
        address="93.184.215.14",
    )


def test_every_resolved_address_is_checked(settings, monkeypatch) -> None:
    """A name with one public and one private address is refused (DNS is outside the system: faked)."""
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False

    def fake_getaddrinfo(host, port, *args, **kwargs):
        assert host == "hooks.example.com"
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", port)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    with pytest.raises(TargetRefused, match=r"private address \(10\.0\.0\.7\)"):
        target_resolve("https://hooks.example.com/in")


def test_a_name_that_does_not_resolve_is_refused(settings) -> None:
    with pytest.raises(TargetRefused, match="could not be resolved"):
        target_resolve("https://no-such-host.invalid/hook")


def test_the_setting_opens_private_targets_and_the_checked_address_is_used(settings) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    target = target_resolve("http://localhost:8080/in")
    assert target.host == "localhost" and target.address in ("127.0.0.1", "::1")
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    with pytest.raises(TargetRefused, match="loopback"):
        target_resolve("http://localhost:8080/in")


def test_post_connects_to_the_checked_address_with_the_name_as_host_header(receiver) -> None:
    """The connection goes to Target.address, whatever the name would resolve to now."""
    target = Target(
        url="http://hooks.example.com/",
        scheme="http",
        host="hooks.example.com",
        port=receiver.port,
        path="/hooks?x=1",
        address="127.0.0.1",
    )
    result = post(target, b"{}", {"Content-Type": "application/json"}, timeout=2)
    assert result.status == 204
    [got] = receiver.received
    assert got.path == "/hooks?x=1"
    assert got.headers["Host"] == f"hooks.example.com:{receiver.port}"
