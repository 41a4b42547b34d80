"""Comments on a task: list, create, edit and delete (your own; team admins moderate) —
through the tasks services and selectors that the task page uses, with the same checks."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.urls import reverse
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.permissions import permission_has
from api.conventions import ApiView
from api.idempotency import IDEMPOTENCY_PARAMETER, idempotent
from api.pagination import paginate_list
from api.schema import page_of
from api.serializers.comments import CommentSerializer, CommentWriteSerializer
from api.views.tasks import TASK_ID
from taskforge.errors import Unavailable
from tasks import services
from tasks.models import Task
from tasks.selectors.task_page import task_comments
from tasks.selectors.tasks import comment_for_change, task_for_user

DOWN = "Comments are unavailable right now (the document server is down)."
COMMENT_ID = OpenApiParameter(
    "comment_id",
    str,
    OpenApiParameter.PATH,
    description="The comment's id (from the list)",
    examples=[OpenApiExample("id", value="665f1c2a8e4b2a0012345678")],
)
COMMENT_EXAMPLE = OpenApiExample(
    "comment",
    value={
        "id": "665f1c2a8e4b2a0012345678",
        "task_id": "3f2c9a1e-8b7d-4c56-9e0f-1a2b3c4d5e6f",
        "author_id": 42,
        "body": "Coaches booked; @ada please check the invoice.",
        "mentions": [7],
        "attachments": [],
        "created_at": "2026-01-05T09:30:00Z",
        "edited_at": None,
        "hidden": False,
        "can_change": True,
    },
    response_only=True,
)


def comment_data(user: Any, task: Task, comment: dict[str, Any]) -> dict[str, Any]:
    attachments = [
        {key: a.get(key) for key in ("id", "name", "size", "content_type", "uploaded_by")}
        | {"uploaded_at": str(a.get("uploaded_at") or "")}
        for a in comment["attachments"]
    ]
    can_change = comment["author_id"] == user.pk or permission_has(user, task.team_id, "comment.moderate")
    return CommentSerializer(
        {**comment, "id": comment["cid"], "attachments": attachments, "can_change": can_change}
    ).data


class CommentListView(ApiView):
    paginated = True
    extra_problem_codes = {"POST": (422,)}

    @extend_schema(
        operation_id="comments_list",
        summary="A task's comments, oldest first (as on the task page)",
        parameters=[TASK_ID],
        responses={200: page_of(CommentSerializer)},
        tags=["comments"],
    )
    def get(self, request: Request, task_id: str) -> Response:
        task = task_for_user(request.user, task_id)
        comments = task_comments(task.id)
        if comments is None:
            raise Unavailable(DOWN, retry_after=30)
        return paginate_list(request, comments, lambda c: comment_data(request.user, task, c))

    @extend_schema(
        operation_id="comment_create",
        summary="Comment on a task (team members and admins)",
        description="As the task page's comment form: the same checks (not empty, at most 10,000 characters); "
        "mentioned members and the task's watchers are notified. Answers with the comment and its `Location`.",
        parameters=[TASK_ID, IDEMPOTENCY_PARAMETER],
        request=CommentWriteSerializer,
        responses={201: CommentSerializer},
        examples=[
            OpenApiExample("comment", value={"body": "Coaches booked; @ada please check."}, request_only=True),
            COMMENT_EXAMPLE,
        ],
        tags=["comments"],
    )
    @idempotent
    def post(self, request: Request, task_id: str) -> Response:
        task = task_for_user(request.user, task_id)
        if not permission_has(request.user, task.team_id, "comment.create"):
            raise PermissionDenied("You may not comment in this team.")  # before the body is checked
        incoming = CommentWriteSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        comment = services.comment_create(actor=request.user, task_id=task.id, body=incoming.validated_data["body"])
        location = reverse("api:task_comment", kwargs={"task_id": task.id, "comment_id": comment["cid"]})
        return Response(comment_data(request.user, task, comment), status=201, headers={"Location": location})


class CommentDetailView(ApiView):
    extra_problem_codes = {"PATCH": (422,)}

    @extend_schema(
        operation_id="comment_update",
        summary="Edit a comment's text (its author; team admins any)",
        description="Newly mentioned members are notified, as on the site.",
        parameters=[TASK_ID, COMMENT_ID],
        request=CommentWriteSerializer,
        responses={200: CommentSerializer},
        examples=[OpenApiExample("edit", value={"body": "Coaches booked (two)."}, request_only=True), COMMENT_EXAMPLE],
        tags=["comments"],
    )
    def patch(self, request: Request, task_id: str, comment_id: str) -> Response:
        task = task_for_user(request.user, task_id)
        comment_for_change(request.user, task, comment_id)  # 404 / 403 before the body is checked
        incoming = CommentWriteSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        comment = services.comment_update(
            actor=request.user, task_id=task.id, comment_id=comment_id, body=incoming.validated_data["body"]
        )
        return Response(comment_data(request.user, task, comment))

    @extend_schema(
        operation_id="comment_delete",
        summary="Delete a comment (its author; team admins any)",
        parameters=[TASK_ID, COMMENT_ID],
        responses={204: None},
        tags=["comments"],
    )
    def delete(self, request: Request, task_id: str, comment_id: str) -> Response:
        task = task_for_user(request.user, task_id)
        services.comment_delete(actor=request.user, task_id=task.id, comment_id=comment_id)
        return Response(status=204)
