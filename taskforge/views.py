"""Site-wide pages: home and error handlers."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from taskforge.params import BadParameter


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html")


def _error(template: str, status: int, message: str) -> Callable[..., HttpResponse]:
    def view(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
        if request.headers.get("HX-Request") == "true":
            # An htmx request swaps the answer into part of a page (static/js/site.js):
            # a message, not a whole page inside the form.
            return render(request, "partials/error.html", {"message": message}, status=status)
        return render(request, template, status=status)

    return view


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    # A parameter refused by taskforge.params says what was wrong with it; other 400s stay generic.
    message = exception.message if isinstance(exception, BadParameter) else ""
    if request.headers.get("HX-Request") == "true":
        fallback = "The request could not be understood. Check what you entered and try again."
        return render(request, "partials/error.html", {"message": message or fallback}, status=400)
    return render(request, "400.html", {"message": message}, status=400)


permission_denied = _error("403.html", 403, "You do not have permission to do that (any more).")
page_not_found = _error("404.html", 404, "This no longer exists, or you no longer have access to it.")


def server_error(request: HttpRequest) -> HttpResponse:
    # No request context processors: the failure may be in them.
    from django.template import loader

    return HttpResponse(loader.get_template("500.html").render({"SITE_NAME": "TaskForge"}), status=500)
