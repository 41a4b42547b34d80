"""The one access rule for views.

* Anonymous visitors are sent to sign in.
* A page or object the person may not know exists answers 404 (a capability page to
  someone without the capability, another team's task, another traveller's booking).
* An action the person may not take on an object they can see answers 403 (raised by the
  services as `Forbidden`, or `PermissionDenied`).

Views call the person's interface (`user.has_capability`, `user.in_a_team`), so this
module needs nothing from the apps above it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse

View = Callable[..., HttpResponse]


def signed_in(view: View) -> View:
    """Anonymous visitors go to the sign-in page and come back afterwards."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        return view(request, *args, **kwargs)

    return wrapper


def capability_required(*capabilities: str) -> Callable[[View], View]:
    """Pages of a site capability (booking desk, catalogue editor, ...), or of any of several:
    404 for others."""

    def decorator(view: View) -> View:
        @wraps(view)
        @signed_in
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not any(request.user.has_capability(capability) for capability in capabilities):
                raise Http404("No such page.")
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def team_member_required(view: View) -> View:
    """Team pages (boards, tasks, notifications): people in at least one team, and site admins;
    404 for others. Which team's work they may see is decided per object by the selectors."""

    @wraps(view)
    @signed_in
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not (request.user.in_a_team or request.user.is_site_admin):
            raise Http404("No such page.")
        return view(request, *args, **kwargs)

    return wrapper
