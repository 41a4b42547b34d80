"""Your in-app notifications: list (unread first, then newest), mark one read, mark all read —
through the notifications selector and services that the bell and the notifications page use."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from api.conventions import ApiView
from api.pagination import MAX_PAGE_SIZE, paginate_list
from api.schema import page_of
from api.serializers.notifications import (
    NotificationReadSerializer,
    NotificationSerializer,
    NotificationsReadAllSerializer,
)
from taskforge.errors import Unavailable
from tasks import services
from tasks.selectors.notifications import notifications_for

DOWN = "Notifications are unavailable right now."
NOTIFICATION_ID = OpenApiParameter(
    "notification_id", str, OpenApiParameter.PATH, description="The notification's id (from the list)"
)


class NotificationListView(ApiView):
    paginated = True

    @extend_schema(
        operation_id="notifications_list",
        summary="Your notifications, unread first, then newest (the latest 200)",
        responses={200: page_of(NotificationSerializer)},
        examples=[
            OpenApiExample(
                "page",
                value={
                    "results": [
                        {
                            "id": "665f1c2a8e4b2a0012345678",
                            "kind": "task_assigned",
                            "read": False,
                            "task_id": "3f2c9a1e-8b7d-4c56-9e0f-1a2b3c4d5e6f",
                            "team_id": 7,
                            "actor_id": 42,
                            "title": "Book the Chamonix coaches",
                            "message": "Ada assigned you this task",
                            "url": "/tasks/3f2c9a1e-8b7d-4c56-9e0f-1a2b3c4d5e6f/",
                            "created_at": "2026-01-05T09:30:00Z",
                            "read_at": None,
                        }
                    ],
                    "next": None,
                    "previous": None,
                },
                response_only=True,
            )
        ],
        tags=["notifications"],
    )
    def get(self, request: Request) -> Response:
        items = notifications_for(request.user.pk, limit=MAX_PAGE_SIZE)
        if items is None:
            raise Unavailable(DOWN, retry_after=30)
        return paginate_list(request, items, lambda item: NotificationSerializer(item).data)


class NotificationReadView(ApiView):
    @extend_schema(
        operation_id="notification_read",
        summary="Mark one of your notifications read",
        parameters=[NOTIFICATION_ID],
        request=None,
        responses={200: NotificationReadSerializer},
        tags=["notifications"],
    )
    def post(self, request: Request, notification_id: str) -> Response:
        changed = services.notification_mark_read(user=request.user, notification_id=notification_id)
        return Response(NotificationReadSerializer({"id": notification_id, "read": True, "changed": changed}).data)


class NotificationsReadAllView(ApiView):
    @extend_schema(
        operation_id="notifications_read_all",
        summary="Mark all your notifications read",
        request=None,
        responses={200: NotificationsReadAllSerializer},
        tags=["notifications"],
    )
    def post(self, request: Request) -> Response:
        marked = services.notifications_mark_all_read(user=request.user)
        return Response(NotificationsReadAllSerializer({"marked": marked}).data)
