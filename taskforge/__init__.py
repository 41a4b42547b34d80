"""TaskForge: project package (settings, routing, Celery, shared services)."""

from taskforge.celery import app as celery_app

__all__ = ["celery_app"]
