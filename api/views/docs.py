"""The OpenAPI schema and its Swagger UI (served from drf-spectacular-sidecar's static
files, no CDN), and the problem+json 404 for unknown /api/ paths."""

from __future__ import annotations

from typing import Any

from csp.decorators import csp_update
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.exceptions import NotFound
from rest_framework.request import Request

from api.conventions import ApiView
from api.permissions import Anyone

# Swagger UI sets inline styles (its <style> block and style attributes): allowed on this
# page only; scripts stay same-origin (the init script is served as a file, ?script).
DOCS_CSP = {"style-src": ["'unsafe-inline'"]}


class SchemaView(SpectacularAPIView):
    authentication_classes = ()
    permission_classes = ()


class DocsView(SpectacularSwaggerSplitView):
    authentication_classes = ()
    permission_classes = ()
    url_name = "api:schema"


schema_view = SchemaView.as_view()
docs_view = csp_update(DOCS_CSP)(DocsView.as_view())


@extend_schema(exclude=True)
class UnknownPathView(ApiView):
    """Any /api/ path that names no endpoint: 404 as problem+json, whatever the method."""

    authentication_classes = ()  # 404 whatever the credentials
    permission_classes = (Anyone,)
    throttle_classes = ()

    def _not_found(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        raise NotFound("There is no such API endpoint; see /api/v1/docs/.")

    get = post = put = patch = delete = head = options = _not_found


unknown_path_view = UnknownPathView.as_view()
