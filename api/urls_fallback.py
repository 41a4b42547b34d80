"""/api/ paths outside a version (/api/, /api/v2/...): problem+json 404."""

from django.urls import re_path

from api.views import docs

urlpatterns = [re_path(r"^[\s\S]*$", docs.unknown_path_view, name="api_unknown")]
