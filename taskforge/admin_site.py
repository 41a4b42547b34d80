"""The Django admin site of TaskForge.

* Sign-in happens on the site's own page (one page, one brute-force protection): the
  admin's login URL sends anonymous visitors there.
* A signed-in person who is not a site admin gets a 403 page, not a redirect: the admin's
  default (back to its login, which sends a signed-in person back to the admin) was a loop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.apps import AdminConfig
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode


class SiteAdmin(admin.AdminSite):
    site_header = "TaskForge administration"
    site_title = "TaskForge admin"

    def admin_view(self, view: Callable[..., HttpResponse], cacheable: bool = False) -> Callable[..., HttpResponse]:
        inner = super().admin_view(view, cacheable)

        def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.user.is_authenticated and not self.has_permission(request):
                raise PermissionDenied("The admin is for site admins.")
            return inner(request, *args, **kwargs)

        guarded.__dict__.update(inner.__dict__)
        return guarded

    def login(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        if request.user.is_authenticated and not self.has_permission(request):
            raise PermissionDenied("The admin is for site admins.")
        target = request.GET.get("next") or ""
        if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
            target = reverse("admin:index")
        if request.user.is_authenticated:
            return HttpResponseRedirect(target)
        return HttpResponseRedirect(reverse("accounts:login") + "?" + urlencode({"next": target}))


class DocumentAdmin(admin.ModelAdmin):
    """The admin of a content model on the document store.

    Content is never added or deleted here: each document follows its source (a Trip row, a
    task, a person's account) or the page that writes it, so an admin cannot create drift.

    Its search runs as regular expressions in MongoDB, whose servers cap a pattern's length
    (SecantusDB at 1,000 characters): a longer search term is shortened, with a message,
    instead of failing the page."""

    search_term_max = 100

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_search_results(self, request: HttpRequest, queryset: Any, search_term: str) -> tuple[Any, bool]:
        if len(search_term) > self.search_term_max:
            search_term = search_term[: self.search_term_max]
            messages.warning(request, f"The search was shortened to its first {self.search_term_max} characters.")
        return super().get_search_results(request, queryset, search_term)


class SiteAdminConfig(AdminConfig):
    default_site = "taskforge.admin_site.SiteAdmin"
