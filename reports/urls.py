"""Routes of the reports (namespace "reports", included at the site root): reports/... and system/."""

from django.urls import path

from reports import views

urlpatterns = [
    path("reports/", views.index, name="index"),
    path("reports/refresh/", views.refresh, name="refresh"),
    path("reports/revenue/<slug:period_name>/", views.revenue, name="revenue"),
    path("reports/revenue/<slug:period_name>/export.csv", views.revenue_csv, name="revenue_csv"),
    path("reports/resorts/", views.resorts, name="resorts"),
    path("reports/resorts/export.csv", views.resorts_csv, name="resorts_csv"),
    path("reports/seats/", views.seats, name="seats"),
    path("reports/seats/export.csv", views.seats_csv, name="seats_csv"),
    path("reports/tasks/", views.tasks, name="tasks"),
    path("reports/tasks/export.csv", views.tasks_csv, name="tasks_csv"),
    path("system/", views.system, name="system"),
]
