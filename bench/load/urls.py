"""The site's URLs plus `/bench/constant/`: a bare view returning a constant page.

It runs through the same gunicorn configuration and the same middleware stack as every
other page, so its throughput is the ceiling the framework and the configuration allow
on this machine; the mixed traffic is reported as a share of it.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path

from taskforge.urls import handler400, handler403, handler404, handler500
from taskforge.urls import urlpatterns as site_urlpatterns

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]

CONSTANT_PAGE = (
    b"<!doctype html><html lang=en><head><meta charset=utf-8><title>constant</title></head>"
    b"<body><p>A constant page: no template, no query, no cache.</p></body></html>"
)


def constant(request: HttpRequest) -> HttpResponse:
    return HttpResponse(CONSTANT_PAGE, content_type="text/html; charset=utf-8")


urlpatterns = [path("bench/constant/", constant, name="bench_constant"), *site_urlpatterns]
