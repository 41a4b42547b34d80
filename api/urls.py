"""/api/v1/ (namespace "api"): one path per resource; the catch-all stays LAST."""

from django.urls import path, re_path

from api.views import docs

urlpatterns = [
    path("schema/", docs.schema_view, name="schema"),
    path("docs/", docs.docs_view, name="docs"),
    # Resources are added above this line.
    re_path(r"^.*$", docs.unknown_path_view, name="unknown"),
]
