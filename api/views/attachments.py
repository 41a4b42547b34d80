"""Files attached to a task: upload (multipart, the site's content checks) and download (the
site's rules: anyone who sees the task; a file of a hidden comment is not served) — through
the tasks service and selector that the task page uses."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import FileResponse, HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from api.conventions import ApiView
from api.idempotency import IDEMPOTENCY_PARAMETER, idempotent
from api.serializers.comments import AttachmentUploadSerializer
from api.serializers.tasks import AttachmentSerializer
from api.views.tasks import TASK_ID
from taskforge.errors import NotFound
from tasks import services
from tasks.attachments import AttachmentRejected, attachment_path
from tasks.selectors.tasks import attachment_for, task_can_edit, task_for_user

ATTACHMENT_ID = OpenApiParameter(
    "attachment_id",
    str,
    OpenApiParameter.PATH,
    description="The file's id (a task's or a comment's `attachments[].id`)",
    examples=[OpenApiExample("id", value="9f86d081884c7d65")],
)


class AttachmentListView(ApiView):
    parser_classes = (MultiPartParser,)
    extra_problem_codes = {"POST": (422,)}

    @extend_schema(
        operation_id="attachment_upload",
        summary="Attach a file to a task (admins: any; members: their own)",
        description="Multipart, field `file`. The same checks as the task page: PNG, JPEG, GIF, WebP, PDF or plain "
        "text, detected from the content, which must match the name; not empty, not over the size limit.",
        parameters=[TASK_ID, IDEMPOTENCY_PARAMETER],
        request={"multipart/form-data": AttachmentUploadSerializer},
        responses={201: AttachmentSerializer},
        examples=[
            OpenApiExample(
                "attachment",
                value={
                    "id": "9f86d081884c7d65",
                    "name": "invoice.pdf",
                    "size": 18342,
                    "content_type": "application/pdf",
                    "uploaded_by": 42,
                    "uploaded_at": "2026-01-05T09:30:00+00:00",
                },
                response_only=True,
            )
        ],
        tags=["attachments"],
    )
    @idempotent
    def post(self, request: Request, task_id: str) -> Response:
        task = task_for_user(request.user, task_id)
        if not task_can_edit(request.user, task):
            raise PermissionDenied("You may not change this task.")
        incoming = AttachmentUploadSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        meta = services.task_attachment_add(actor=request.user, task_id=task.id, upload=incoming.validated_data["file"])
        data = AttachmentSerializer(
            {key: meta.get(key) for key in ("id", "name", "size", "content_type", "uploaded_by")}
            | {"uploaded_at": str(meta.get("uploaded_at") or "")}
        ).data
        location = reverse("api:task_attachment", kwargs={"task_id": task.id, "attachment_id": meta["id"]})
        return Response(data, status=201, headers={"Location": location})


class AttachmentDetailView(ApiView):
    @extend_schema(
        operation_id="attachment_download",
        summary="Download a file of a task or of one of its comments",
        description="The file under its original name (`Content-Disposition: attachment`). A file of a comment a "
        "moderator hid is not served (404).",
        parameters=[TASK_ID, ATTACHMENT_ID],
        responses={(200, "application/octet-stream"): OpenApiResponse(OpenApiTypes.BINARY, description="The file")},
        tags=["attachments"],
    )
    def get(self, request: Request, task_id: str, attachment_id: str) -> HttpResponse:
        task = task_for_user(request.user, task_id)
        meta = attachment_for(task, attachment_id)
        if meta is None:
            raise NotFound("No such attachment.")
        try:
            handle = open(attachment_path(str(task.id), meta["stored_name"]), "rb")
        except (OSError, AttachmentRejected):
            raise NotFound("The file is missing.") from None
        response = FileResponse(
            handle,
            as_attachment=True,
            filename=meta["name"],
            content_type=meta.get("content_type") or "application/octet-stream",
        )
        response["Cache-Control"] = "private, no-store"
        response["X-Content-Type-Options"] = "nosniff"
        return response
