"""The notification bell and list (polled by htmx), and marking notifications read."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from taskforge.decorators import team_member_required
from taskforge.params import redirect_target
from tasks import services
from tasks.selectors.notifications import notifications_for, unread_count


def _poll_seconds() -> int:
    return settings.NOTIFICATION_POLL_SECONDS


@require_GET
def notifications_badge(request: HttpRequest) -> HttpResponse:
    """The bell with the unread count, refreshed by htmx polling.

    Why polling and not server-sent events: the site runs on gunicorn with a small, fixed
    number of worker threads; an SSE stream holds one of them for as long as it is open,
    so every open tab would pin a thread (and a stream per tab across 20 users could
    starve the pool). A poll every NOTIFICATION_POLL_SECONDS (15 s by default) is one
    short request answered from Redis (the unread counter), costs nothing between polls,
    survives proxies and reconnects without extra code, and is fast enough for an
    unread badge. The element replaces itself (outerHTML) and carries the next trigger;
    a signed-out client gets HTTP 286, which tells htmx to stop polling.
    """
    if not request.user.is_authenticated or not request.user.in_a_team:
        return HttpResponse(status=286)  # signed out (or in no team any more): stop polling
    count = unread_count(request.user.pk)
    return render(request, "tasks/partials/bell.html", {"unread": count, "poll_seconds": _poll_seconds()})


@team_member_required
@require_GET
def notifications_list(request: HttpRequest) -> HttpResponse:
    """The list (the region re-polls itself, like the bell; see notifications_badge)."""
    items = notifications_for(request.user.pk)
    count = unread_count(request.user.pk)
    context = {"items": items, "unread": count, "poll_seconds": _poll_seconds()}
    if request.htmx and request.GET.get("fragment") == "list":
        return render(request, "tasks/partials/notification_list.html", context)
    return render(request, "tasks/notifications.html", context)


@team_member_required
@require_POST
def notification_read(request: HttpRequest, notification_id: str) -> HttpResponse:
    services.notification_mark_read(user=request.user, notification_id=notification_id)
    target = redirect_target(request, "")
    if target.startswith(reverse("tasks:index")):
        return redirect(target)
    if request.htmx:
        items = notifications_for(request.user.pk)
        return render(
            request,
            "tasks/partials/notification_list.html",
            {"items": items, "unread": unread_count(request.user.pk), "poll_seconds": _poll_seconds()},
        )
    return redirect("tasks:notifications")


@team_member_required
@require_POST
def notifications_read_all(request: HttpRequest) -> HttpResponse:
    services.notifications_mark_all_read(user=request.user)
    if request.htmx:
        items = notifications_for(request.user.pk)
        return render(
            request,
            "tasks/partials/notification_list.html",
            {"items": items, "unread": 0, "poll_seconds": _poll_seconds()},
        )
    return redirect("tasks:notifications")
