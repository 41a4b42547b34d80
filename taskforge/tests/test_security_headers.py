"""Security headers sent by Django (Content-Security-Policy, Permissions-Policy,
Referrer-Policy, HSTS in prod), their twins in deploy/nginx, and the templates kept free of
what the policy forbids (inline script, inline event handlers, javascript: URLs, inline style).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from taskforge.tests.test_settings import PROD_ENV

ROOT = Path(__file__).resolve().parents[2]
NGINX = ROOT / "deploy" / "nginx"
PROD_KEY = "k" * 20 + "Q9x!v2@Lp#7zR$4mT%8nW^3bY&6cH*1d"


def csp_directives(value: str) -> dict[str, list[str]]:
    """{"script-src": ["'self'"], ...} from a Content-Security-Policy value (order-free)."""
    directives: dict[str, list[str]] = {}
    for part in value.split(";"):
        words = part.split()
        if words:
            directives[words[0]] = words[1:]
    return directives


def assert_strict(policy: dict[str, list[str]]) -> None:
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]  # no 'unsafe-inline', no 'unsafe-eval', no nonce when unused
    assert policy["style-src"] == ["'self'"]  # no 'unsafe-inline': style="" attributes are refused too
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]
    assert "script-src-attr" not in policy and "script-src-elem" not in policy and "style-src-attr" not in policy


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/trips/", "/accounts/login/", "/admin/login/", "/no-such-page/"])
def test_pages_send_a_strict_content_security_policy(client: Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code in (200, 302, 404)
    assert_strict(csp_directives(response["Content-Security-Policy"]))
    assert "upgrade-insecure-requests" not in response["Content-Security-Policy"]  # dev/test: plain HTTP


@pytest.mark.django_db
def test_static_files_carry_the_policy_too(client: Client) -> None:
    response = client.get("/static/js/site.js")
    assert response.status_code == 200
    assert_strict(csp_directives(response["Content-Security-Policy"]))


@pytest.mark.django_db
def test_signed_in_pages_send_it_as_well(client: Client, make_user) -> None:
    client.force_login(make_user("traveller"))
    response = client.get("/accounts/profile/")
    assert response.status_code == 200
    assert_strict(csp_directives(response["Content-Security-Policy"]))


@pytest.mark.django_db
def test_permissions_and_referrer_policies(client: Client) -> None:
    response = client.get("/")
    features = dict(item.strip().split("=", 1) for item in response["Permissions-Policy"].split(","))
    for feature in ("camera", "microphone", "geolocation", "payment", "usb", "display-capture"):
        assert features[feature] == "()", feature
    assert response["Referrer-Policy"] == "same-origin"
    assert "Strict-Transport-Security" not in response  # dev/test: no TLS, no HSTS


def test_a_nonce_is_added_only_where_a_template_asks_for_one(rf) -> None:
    from csp.middleware import CSPMiddleware
    from django.http import HttpResponse

    def view_with_inline_script(request):
        return HttpResponse(f'<script nonce="{request.csp_nonce}">1</script>')

    request = rf.get("/")
    response = CSPMiddleware(view_with_inline_script)(request)
    policy = csp_directives(response["Content-Security-Policy"])
    assert policy["script-src"] == ["'self'", f"'nonce-{request.csp_nonce}'"]
    assert f'nonce="{request.csp_nonce}"' in response.content.decode()


_PROD_PROBE = """
import json, django
django.setup()
from django.test import Client
client = Client()
secure = client.get("/healthz", secure=True)
plain = client.get("/healthz")
print(json.dumps({"secure": dict(secure.headers), "plain_status": plain.status_code,
                  "plain_location": plain.headers.get("Location", "")}))
"""


@pytest.fixture(scope="module")
def prod_headers() -> dict:
    """The headers of a response of the production profile (a subprocess: settings are read once)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    # Every variable prod requires (the same set the settings tests start prod with).
    env.update(PROD_ENV, DJANGO_SETTINGS_MODULE="taskforge.settings", DJANGO_ALLOWED_HOSTS="testserver")
    result = subprocess.run(
        [sys.executable, "-c", _PROD_PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_sends_hsts_over_https_and_redirects_plain_http(prod_headers: dict) -> None:
    headers = prod_headers["secure"]
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert prod_headers["plain_status"] == 301 and prod_headers["plain_location"].startswith("https://")
    policy = csp_directives(headers["Content-Security-Policy"])
    assert_strict(policy)
    assert policy["upgrade-insecure-requests"] == []


def _nginx_default_csp() -> str:
    conf = (NGINX / "taskforge.conf").read_text()
    block = re.search(r"map \$upstream_http_content_security_policy \$tf_csp \{(.*?)\}", conf, re.S)
    assert block, "the CSP map is gone from taskforge.conf"
    return re.search(r'""\s+"([^"]+)";', block.group(1)).group(1)


def _nginx_header(name: str) -> str:
    conf = (NGINX / "security-headers.conf").read_text()
    return re.search(rf'add_header {name} "([^"]+)" always;', conf).group(1)


def test_nginx_repeats_djangos_policies_word_for_word(prod_headers: dict) -> None:
    """nginx's own copies (for static files and its error pages) match what Django sends,
    and proxied responses never carry two: nginx hides Django's copies of the headers it sets."""
    headers = prod_headers["secure"]
    assert csp_directives(_nginx_default_csp()) == csp_directives(headers["Content-Security-Policy"])
    for name in ("Permissions-Policy", "Referrer-Policy", "Strict-Transport-Security"):
        assert _nginx_header(name) == headers[name], name
    hidden = set(re.findall(r"proxy_hide_header (\S+);", (NGINX / "proxy.conf").read_text()))
    set_by_nginx = set(re.findall(r"^add_header (\S+) ", (NGINX / "security-headers.conf").read_text(), re.M))
    assert "Permissions-Policy" in set_by_nginx and set_by_nginx <= hidden


# --- the templates and static files hold nothing the policy would block -------------------------

_TEMPLATE_DIRS = [ROOT / "templates", *ROOT.glob("*/templates")]
_FORBIDDEN = {
    "inline script": re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I),
    "inline event handler": re.compile(r"<[^>]*\son[a-z]+\s*=", re.I),
    "javascript: URL": re.compile(r"javascript:", re.I),
    "inline style attribute": re.compile(r"<[^>]*\sstyle\s*=", re.I),
    "style element": re.compile(r"<style[\s>]", re.I),
    "htmx hx-on": re.compile(r"\shx-on", re.I),
}


def _site_templates() -> list[Path]:
    files = [p for d in _TEMPLATE_DIRS for p in d.rglob("*.html")]
    # Emails are read in mail clients, not under the site's policy (they need inline style).
    return [p for p in files if "email" not in p.relative_to(ROOT).parts]


def test_templates_have_no_inline_script_handlers_or_style() -> None:
    files = _site_templates()
    assert len(files) > 50
    found = [
        f"{path.relative_to(ROOT)}: {what}"
        for path in files
        for what, pattern in _FORBIDDEN.items()
        if pattern.search(path.read_text())
    ]
    assert found == []


def test_htmx_is_configured_for_the_policy() -> None:
    base = (ROOT / "templates" / "base.html").read_text()
    meta = re.search(r"<meta name=\"htmx-config\" content='([^']+)'>", base)
    assert meta, "base.html has no htmx-config meta tag"
    config = json.loads(meta.group(1))
    # htmx would inject a <style> element (refused by style-src) and eval hx-on/js: values.
    assert config["includeIndicatorStyles"] is False and config["allowEval"] is False
    # The indicator styles it no longer injects come from the site's stylesheet.
    assert ".htmx-request .htmx-indicator" in (ROOT / "static" / "css" / "site.css").read_text()
