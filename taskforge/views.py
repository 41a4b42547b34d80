"""Site-wide pages: home and error handlers."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html")


def _error(template: str, status: int) -> HttpResponse:
    def view(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
        return render(request, template, status=status)

    return view


bad_request = _error("400.html", 400)
permission_denied = _error("403.html", 403)
page_not_found = _error("404.html", 404)


def server_error(request: HttpRequest) -> HttpResponse:
    # No request context processors: the failure may be in them.
    from django.template import loader

    return HttpResponse(loader.get_template("500.html").render({"SITE_NAME": "TaskForge"}), status=500)
