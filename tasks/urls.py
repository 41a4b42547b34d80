"""URL routes of the tasks app (included at the site root by taskforge/urls.py):
tasks/..., notifications/..., dashboard/..."""

from django.urls import path

from tasks.views import board, comments, custom_fields, dashboard, notifications, quick_add, task_pages

urlpatterns = [
    path("tasks/", board.index, name="index"),
    path("tasks/mine/", board.mine, name="mine"),
    path("tasks/search/", board.search, name="search"),
    path("tasks/teams/<int:team_id>/board/", board.board, name="board"),
    path("tasks/teams/<int:team_id>/list/", board.task_list, name="list"),
    path("tasks/teams/<int:team_id>/new/", task_pages.task_new, name="new"),
    path("tasks/teams/<int:team_id>/quick-add/", quick_add.quick_add, name="quick_add"),
    path("tasks/teams/<int:team_id>/members/", comments.member_autocomplete, name="members"),
    path("tasks/teams/<int:team_id>/fields/", custom_fields.custom_fields, name="custom_fields"),
    path("tasks/teams/<int:team_id>/fields/<int:field_id>/", custom_fields.custom_field_edit, name="custom_field_edit"),
    path(
        "tasks/teams/<int:team_id>/fields/<int:field_id>/delete/",
        custom_fields.custom_field_delete,
        name="custom_field_delete",
    ),
    path("tasks/<str:task_id>/", task_pages.task_detail, name="detail"),
    path("tasks/<str:task_id>/edit/", task_pages.task_edit, name="edit"),
    path("tasks/<str:task_id>/delete/", task_pages.task_delete, name="delete"),
    path("tasks/<str:task_id>/move/", board.task_move, name="move"),
    path("tasks/<str:task_id>/watch/", task_pages.task_watch, name="watch"),
    path("tasks/<str:task_id>/attachments/", comments.attachment_upload, name="attachment_upload"),
    path(
        "tasks/<str:task_id>/attachments/<str:attachment_id>/", comments.attachment_download, name="attachment_download"
    ),
    path("tasks/<str:task_id>/comments/", comments.comment_create, name="comment_create"),
    path("tasks/<str:task_id>/comments/<str:comment_id>/edit/", comments.comment_edit, name="comment_edit"),
    path("tasks/<str:task_id>/comments/<str:comment_id>/delete/", comments.comment_delete, name="comment_delete"),
    path("notifications/", notifications.notifications_list, name="notifications"),
    path("notifications/badge/", notifications.notifications_badge, name="notifications_badge"),
    path("notifications/read-all/", notifications.notifications_read_all, name="notifications_read_all"),
    path("notifications/<str:notification_id>/read/", notifications.notification_read, name="notification_read"),
    path("dashboard/", dashboard.dashboard_me, name="dashboard"),
    path("dashboard/teams/<int:team_id>/", dashboard.dashboard_team, name="dashboard_team"),
]
