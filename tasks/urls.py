"""URL routes of the tasks app (included at the site root by taskforge/urls.py):
tasks/..., notifications/..., dashboard/..."""

from django.urls import path

from tasks import views

urlpatterns = [
    path("tasks/", views.index, name="index"),
    path("tasks/mine/", views.mine, name="mine"),
    path("tasks/search/", views.search, name="search"),
    path("tasks/teams/<int:team_id>/board/", views.board, name="board"),
    path("tasks/teams/<int:team_id>/list/", views.task_list, name="list"),
    path("tasks/teams/<int:team_id>/new/", views.task_new, name="new"),
    path("tasks/teams/<int:team_id>/members/", views.member_autocomplete, name="members"),
    path("tasks/teams/<int:team_id>/fields/", views.custom_fields, name="custom_fields"),
    path("tasks/teams/<int:team_id>/fields/<int:field_id>/", views.custom_field_edit, name="custom_field_edit"),
    path(
        "tasks/teams/<int:team_id>/fields/<int:field_id>/delete/", views.custom_field_delete, name="custom_field_delete"
    ),
    path("tasks/<str:task_id>/", views.task_detail, name="detail"),
    path("tasks/<str:task_id>/edit/", views.task_edit, name="edit"),
    path("tasks/<str:task_id>/delete/", views.task_delete, name="delete"),
    path("tasks/<str:task_id>/move/", views.task_move, name="move"),
    path("tasks/<str:task_id>/watch/", views.task_watch, name="watch"),
    path("tasks/<str:task_id>/attachments/", views.attachment_upload, name="attachment_upload"),
    path("tasks/<str:task_id>/attachments/<str:attachment_id>/", views.attachment_download, name="attachment_download"),
    path("tasks/<str:task_id>/comments/", views.comment_create, name="comment_create"),
    path("tasks/<str:task_id>/comments/<str:comment_id>/edit/", views.comment_edit, name="comment_edit"),
    path("tasks/<str:task_id>/comments/<str:comment_id>/delete/", views.comment_delete, name="comment_delete"),
    path("notifications/", views.notifications_list, name="notifications"),
    path("notifications/badge/", views.notifications_badge, name="notifications_badge"),
    path("notifications/read-all/", views.notifications_read_all, name="notifications_read_all"),
    path("notifications/<str:notification_id>/read/", views.notification_read, name="notification_read"),
    path("dashboard/", views.dashboard_me, name="dashboard"),
    path("dashboard/teams/<int:team_id>/", views.dashboard_team, name="dashboard_team"),
]
