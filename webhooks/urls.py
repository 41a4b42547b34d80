"""URL routes of the webhooks app (included at the site root, namespace "webhooks")."""

from django.urls import path

from webhooks import views

urlpatterns = [
    path("webhooks/teams/<int:team_id>/", views.team_endpoints, name="team"),
    path("webhooks/desk/", views.desk_endpoints, name="desk"),
    path("webhooks/endpoints/<int:endpoint_id>/", views.endpoint_detail, name="endpoint"),
    path("webhooks/endpoints/<int:endpoint_id>/edit/", views.endpoint_edit, name="endpoint_edit"),
    path("webhooks/endpoints/<int:endpoint_id>/toggle/", views.endpoint_toggle, name="endpoint_toggle"),
    path("webhooks/endpoints/<int:endpoint_id>/secret/", views.endpoint_secret, name="endpoint_secret"),
    path("webhooks/endpoints/<int:endpoint_id>/delete/", views.endpoint_remove, name="endpoint_delete"),
    path("webhooks/deliveries/<uuid:delivery_id>/redeliver/", views.redeliver, name="redeliver"),
]
