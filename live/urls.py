"""URLs of the live-events service (nginx routes /events/ here)."""

from django.urls import path

from live import views

urlpatterns = [
    path("events/healthz", views.healthz, name="live_healthz"),
    path("events/me/", views.my_events, name="live_me"),
    path("events/board/<int:team_id>/", views.board_events, name="live_board"),
]
