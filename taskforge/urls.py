"""URL configuration. Each app owns its URL module."""

from django.contrib import admin
from django.urls import include, path

from taskforge import health, metrics, views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    # Each app's urls.py defines full paths under its own prefixes:
    # accounts: accounts/, teams/, invitations/; bookings: trips/, bookings/;
    # tasks: tasks/, notifications/, dashboard/; audit: audit/, ops/.
    path("", include(("accounts.urls", "accounts"))),
    path("", include(("bookings.urls", "bookings"))),
    path("", include(("tasks.urls", "tasks"))),
    path("", include(("audit.urls", "audit"))),
    # reports/... (staff report pages, CSV) and system/ (admin System page).
    path("", include(("checklists.urls", "checklists"))),
    path("", include(("reports.urls", "reports"))),
    # webhooks/... (team and booking-desk webhook endpoints, delivery logs).
    path("", include(("webhooks.urls", "webhooks"))),
    # The REST API (api/urls.py); any other /api/ path answers a problem+json 404.
    path("api/v1/", include(("api.urls", "api"))),
    path("api/", include("api.urls_fallback")),
]

handler400 = "taskforge.views.bad_request"
handler403 = "taskforge.views.permission_denied"
handler404 = "taskforge.views.page_not_found"
handler500 = "taskforge.views.server_error"
