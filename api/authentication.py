"""How the API knows who is calling: a personal access token (`Authorization: Bearer …`),
or the site's own session (with CSRF, for the site's scripts).

Authentication happens inside the view (after DatabaseContextMiddleware ran with an
anonymous user for a token request), so `api.conventions.ApiView` puts the same RLS
context on the connection as soon as the caller is known.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from accounts.models import ApiToken, User
from accounts.services.api_tokens import api_token_authenticate
from taskforge.middleware import client_ip

BEARER = "bearer"


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer tf_…`: a personal access token, checked afresh on every request."""

    def authenticate(self, request: Request) -> tuple[User, ApiToken] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        scheme, _, value = header.partition(" ")
        if scheme.lower() != BEARER:
            return None  # not ours (the API knows no other scheme; the request stays anonymous)
        value = value.strip()
        if not value or " " in value:
            raise exceptions.AuthenticationFailed("Send the token as `Authorization: Bearer <token>`.")
        found = api_token_authenticate(secret=value, ip=client_ip(request._request))
        if found is None:
            raise exceptions.AuthenticationFailed("The token is unknown, revoked or expired.")
        return found

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class SessionCsrfAuthentication(authentication.SessionAuthentication):
    """The site's own session cookie; unsafe methods need the CSRF token (X-CSRFToken)."""


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal access token from your profile page (`tf_…`). Read tokens may only "
            "use GET; read-write tokens may change what you may change on the site.",
        }


class SessionScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.SessionCsrfAuthentication"
    name = "cookieAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {"type": "apiKey", "in": "cookie", "name": "sessionid"}
