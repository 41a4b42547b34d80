"""URL routes of this app (included at the site root by taskforge/urls.py, namespace "audit")."""

from django.urls import path

from audit import views

urlpatterns = [
    path("audit/", views.browser, name="browser"),
    path("audit/entry/<int:entry_id>/", views.entry, name="entry"),
    path("audit/history/<str:table>/<path:record_id>/", views.history, name="history"),
]
