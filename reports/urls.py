"""Routes of the reports (namespace "reports", included at the site root): reports/... and system/.

Each report's export.csv is the report's own view with export="csv" (one view per report)."""

from django.urls import path

from reports import views
from reports.views import CSV

urlpatterns = [
    path("reports/", views.index, name="index"),
    path("reports/refresh/", views.refresh, name="refresh"),
    path("reports/revenue/<slug:period_name>/", views.revenue, name="revenue"),
    path("reports/revenue/<slug:period_name>/export.csv", views.revenue, {"export": CSV}, name="revenue_csv"),
    path("reports/resorts/", views.resorts, name="resorts"),
    path("reports/resorts/export.csv", views.resorts, {"export": CSV}, name="resorts_csv"),
    path("reports/seats/", views.seats, name="seats"),
    path("reports/seats/export.csv", views.seats, {"export": CSV}, name="seats_csv"),
    path("reports/tasks/", views.tasks, name="tasks"),
    path("reports/tasks/export.csv", views.tasks, {"export": CSV}, name="tasks_csv"),
    path("system/", views.system, name="system"),
]
