"""/api/v1/ (namespace "api"): one block per resource; the catch-all stays LAST.

Ids in paths use the `id` converter (1 to 18 digits: a bigint, so no database error)."""

from django.urls import path, re_path, register_converter

from api.views import attachments, bookings, comments, docs, me, notifications, reports, tasks, teams, trips


class IdConverter:
    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(IdConverter, "id")

urlpatterns = [
    path("schema/", docs.schema_view, name="schema"),
    path("docs/", docs.docs_view, name="docs"),
    path("me/", me.MeView.as_view(), name="me"),
    path("teams/", teams.TeamListView.as_view(), name="teams"),
    path("teams/<slug:slug>/", teams.TeamDetailView.as_view(), name="team"),
    path("teams/<slug:slug>/members/", teams.MemberListView.as_view(), name="team_members"),
    path("teams/<slug:slug>/members/<id:user_id>/", teams.MemberDetailView.as_view(), name="team_member"),
    path("teams/<slug:slug>/invitations/", teams.InvitationListView.as_view(), name="team_invitations"),
    path(
        "teams/<slug:slug>/invitations/<id:invitation_id>/",
        teams.InvitationDetailView.as_view(),
        name="team_invitation",
    ),
    path("trips/", trips.TripListView.as_view(), name="trips"),
    path("trips/<str:code>/", trips.TripDetailView.as_view(), name="trip"),
    path("tasks/", tasks.TaskListView.as_view(), name="tasks"),
    path("tasks/<uuid:task_id>/", tasks.TaskDetailView.as_view(), name="task"),
    path("tasks/<uuid:task_id>/move/", tasks.TaskMoveView.as_view(), name="task_move"),
    path("notifications/", notifications.NotificationListView.as_view(), name="notifications"),
    path("notifications/read-all/", notifications.NotificationsReadAllView.as_view(), name="notifications_read_all"),
    path(
        "notifications/<str:notification_id>/read/",
        notifications.NotificationReadView.as_view(),
        name="notification_read",
    ),
    path("tasks/<uuid:task_id>/comments/", comments.CommentListView.as_view(), name="task_comments"),
    path(
        "tasks/<uuid:task_id>/comments/<str:comment_id>/",
        comments.CommentDetailView.as_view(),
        name="task_comment",
    ),
    path("tasks/<uuid:task_id>/attachments/", attachments.AttachmentListView.as_view(), name="task_attachments"),
    path(
        "tasks/<uuid:task_id>/attachments/<str:attachment_id>/",
        attachments.AttachmentDetailView.as_view(),
        name="task_attachment",
    ),
    # --- bookings (api/views/bookings.py) ---
    path("trips/<str:code>/departures/", bookings.DepartureListView.as_view(), name="trip_departures"),
    path("bookings/", bookings.BookingListView.as_view(), name="bookings"),
    path("bookings/<id:booking_id>/", bookings.BookingDetailView.as_view(), name="booking"),
    path("bookings/<id:booking_id>/refund-quote/", bookings.RefundQuoteView.as_view(), name="booking_refund_quote"),
    path("bookings/<id:booking_id>/cancel/", bookings.BookingCancelView.as_view(), name="booking_cancel"),
    path("desk/bookings/", bookings.DeskBookingListView.as_view(), name="desk_bookings"),
    path("desk/bookings/<id:booking_id>/confirm/", bookings.DeskConfirmView.as_view(), name="desk_booking_confirm"),
    path("desk/bookings/<id:booking_id>/payment/", bookings.DeskPaymentView.as_view(), name="desk_booking_payment"),
    path("desk/bookings/<id:booking_id>/cancel/", bookings.DeskCancelView.as_view(), name="desk_booking_cancel"),
    # --- reports (api/views/reports.py) ---
    path("reports/revenue/<slug:period_name>/", reports.RevenueReportView.as_view(), name="report_revenue"),
    path("reports/resorts/", reports.ResortReportView.as_view(), name="report_resorts"),
    path("reports/seats/", reports.SeatReportView.as_view(), name="report_seats"),
    path("reports/tasks/", reports.TaskReportView.as_view(), name="report_tasks"),
    # Resources are added above this line.
    re_path(r"^[\s\S]*$", docs.unknown_path_view, name="unknown"),  # [\s\S]: paths with a newline too
]
