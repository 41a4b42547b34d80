"""URL routes of this app (included at the site root by taskforge/urls.py)."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
