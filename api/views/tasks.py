"""Tasks: list (the task list page's filters and sorts, or the site's typo-tolerant task
search), create, read, update, delete, and move between columns — through the tasks
selectors and services that the board and task pages use.

Update and move need `If-Match` with the task's ETag (`"task-<id>-v<version>"`): the
version it names is what the service's version-guarded write compares, so of two writers
with the same ETag one wins and the other gets 412."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.urls import reverse
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import selectors as account_selectors
from accounts.models import Team
from accounts.permissions import permission_has
from api.conventions import ApiView, etag_for_version, if_match_check, if_match_version
from api.idempotency import IDEMPOTENCY_PARAMETER, idempotent
from api.pagination import paginate_list, paginate_pages
from api.problems import PreconditionFailed, PreconditionRequired
from api.serializers.tasks import (
    TaskCreateSerializer,
    TaskListItemSerializer,
    TaskMoveSerializer,
    TaskPageSerializer,
    TaskQuerySerializer,
    TaskSerializer,
    TaskWriteSerializer,
)
from taskforge.errors import Conflict
from taskforge.params import PAGE_MAX
from tasks import services
from tasks.forms import TaskFilterForm
from tasks.models import Task
from tasks.selectors.board import task_page, tasks_filtered
from tasks.selectors.search import tasks_search
from tasks.selectors.tasks import task_can_edit, task_detail_current, task_for_user
from tasks.selectors.teams import team_for_user, team_members_cached, teams_for_user

KIND = "task"
PAGE_SIZE = 25
TASK_ID = OpenApiParameter(
    "task_id",
    str,
    OpenApiParameter.PATH,
    description="The task's id (a UUID)",
    examples=[OpenApiExample("id", value="3f2c9a1e-8b7d-4c56-9e0f-1a2b3c4d5e6f")],
)
IF_MATCH = OpenApiParameter(
    "If-Match",
    str,
    OpenApiParameter.HEADER,
    required=True,
    description="The task's ETag as you read it (from GET, create, update or move). 412 when the task changed "
    "since; 428 when missing. `*`: whatever the current version is (last writer wins).",
    examples=[OpenApiExample("etag", value='"task-3f2c9a1e-8b7d-4c56-9e0f-1a2b3c4d5e6f-v3"')],
)
IF_MATCH_OPTIONAL = OpenApiParameter(
    "If-Match", str, OpenApiParameter.HEADER, required=False, description="Delete only if the task is unchanged (412)"
)
TASK_EXAMPLE = OpenApiExample(
    "task",
    value={
        "id": "3f2c9a1e-8b7d-4c56-9e0f-1a2b3c4d5e6f",
        "team_id": 7,
        "team": "alps-desk",
        "title": "Book the Chamonix coaches",
        "description": "Two coaches, **50 seats** each.",
        "status": "todo",
        "priority": "high",
        "assignee_id": 42,
        "creator_id": 42,
        "due_at": "2026-03-01T09:00:00Z",
        "created_at": "2026-01-05T09:30:00Z",
        "updated_at": "2026-01-05T09:30:00Z",
        "done_at": None,
        "version": 1,
        "tags": ["transport"],
        "custom_fields": {},
        "attachments": [],
        "can_edit": True,
    },
    response_only=True,
)


def task_etag(task: Task) -> str:
    return etag_for_version(KIND, task.id, task.version)


def task_data(user: Any, task: Task) -> dict[str, Any]:
    """The full representation: the row and its current detail state."""
    detail = task_detail_current(task)
    attachments = [
        {key: a.get(key) for key in ("id", "name", "size", "content_type", "uploaded_by")}
        | {"uploaded_at": str(a.get("uploaded_at") or "")}
        for a in detail["attachments"]
    ]
    return TaskSerializer(
        {
            **TaskListItemSerializer(task).data,
            "team": task.team.slug,
            "description": detail["description"],
            "tags": detail["tags"],
            "custom_fields": detail["custom_fields"],
            "attachments": attachments,
            "can_edit": task_can_edit(user, task),
        }
    ).data


def task_response(user: Any, task: Task, *, status: int = 200) -> Response:
    task = task_for_user(user, task.id)  # reloaded with its team, as the reader sees it
    headers = {"ETag": task_etag(task)}
    if status == 201:
        headers["Location"] = reverse("api:task", kwargs={"task_id": task.id})
    return Response(task_data(user, task), status=status, headers=headers)


def _version_from(request: Request, task: Task) -> int:
    """The version the caller's If-Match names (428 without one, 412 for another task's)."""
    if request.headers.get("If-Match", "").strip() == "*":
        return task.version  # any current version (RFC 9110); the write still refuses a change under it
    version = if_match_version(request, KIND, task.id)
    if version is None:
        raise PreconditionRequired()
    return version


def _team(request: Request, slug: str) -> Team:
    team = account_selectors.team_for_user(request.user, slug)  # 404 for a team not yours
    return team_for_user(request.user, team.pk)  # and only if you may see its tasks


class TaskListView(ApiView):
    paginated = True
    query_serializer = TaskQuerySerializer
    extra_problem_codes = {"GET": (404,), "POST": (404, 409, 422)}

    @extend_schema(
        operation_id="tasks_list",
        summary="Tasks of your teams, filtered and sorted; or a search",
        description="The task list page's filters and sorts over your teams (or one team with `team`). "
        "`assignee=me` lists your tasks. With `q`, the site's ranked, typo-tolerant task search instead.",
        parameters=[TaskQuerySerializer],
        responses={200: TaskPageSerializer},
        tags=["tasks"],
    )
    def get(self, request: Request) -> Response:
        query = TaskQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        slug = query.validated_data.get("team")
        team = _team(request, slug) if slug else None
        if query.validated_data.get("q"):
            return self._search(request, query.validated_data["q"], team)
        members = {m["id"] for m in team_members_cached(team.pk)} if team else set()
        params = request.query_params.copy()
        for name in ("team", "q", "cursor", "page_size", "page"):
            params.pop(name, None)
        form = TaskFilterForm(params, member_ids=members)
        if not form.is_valid():
            raise ValidationError({field: [str(e) for e in errors] for field, errors in form.errors.items()})
        filters = form.cleaned_data
        if team is not None:
            base = Task.objects.filter(team_id=team.pk)
        else:
            base = Task.objects.filter(team_id__in=[t.pk for t in teams_for_user(request.user)])
        queryset = tasks_filtered(base, filters, user=request.user)
        sort = filters.get("sort") or "priority"

        def fetch(number: int) -> tuple[list[Task], bool]:
            page = task_page(queryset, sort=sort, page=number, per_page=PAGE_SIZE)
            if page.number != number:  # the list shrank below this page
                return [], False
            return list(page.object_list), page.has_next()

        items, next_link, previous_link = paginate_pages(request, fetch, last_page=PAGE_MAX)
        return Response(
            {
                "results": TaskListItemSerializer(items, many=True).data,
                "next": next_link,
                "previous": previous_link,
                "mode": "list",
                "corrected_query": "",
            }
        )

    def _search(self, request: Request, q: str, team: Team | None) -> Response:
        result = tasks_search(request.user, q, team_id=team.pk if team else None)
        response = paginate_list(request, result.tasks, lambda task: TaskListItemSerializer(task).data)
        response.data.update({"mode": result.mode, "corrected_query": result.corrected})
        return response

    @extend_schema(
        operation_id="task_create",
        summary="Create a task in one of your teams (members and admins)",
        description="As the site's *New task* form: the same checks (assignee a non-guest member, custom fields, "
        "tags). Answers with the task, its `ETag` and `Location`.",
        parameters=[IDEMPOTENCY_PARAMETER],
        request=TaskCreateSerializer,
        responses={201: TaskSerializer},
        examples=[
            OpenApiExample(
                "create",
                value={
                    "team": "alps-desk",
                    "title": "Book the Chamonix coaches",
                    "priority": "high",
                    "tags": ["transport"],
                },
                request_only=True,
            ),
            TASK_EXAMPLE,
        ],
        tags=["tasks"],
    )
    @idempotent
    def post(self, request: Request) -> Response:
        incoming = TaskCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        fields = dict(incoming.validated_data)
        team = _team(request, fields.pop("team"))
        task = services.task_create(actor=request.user, team_id=team.pk, **fields)
        return task_response(request.user, task, status=201)


class TaskDetailView(ApiView):
    extra_problem_codes = {"PATCH": (412, 428), "DELETE": (412,)}

    @extend_schema(
        operation_id="task_read",
        summary="A task of one of your teams",
        parameters=[TASK_ID],
        responses={200: TaskSerializer},
        examples=[TASK_EXAMPLE],
        tags=["tasks"],
    )
    def get(self, request: Request, task_id: str) -> Response:
        task = task_for_user(request.user, task_id)
        return Response(task_data(request.user, task), headers={"ETag": task_etag(task)})

    @extend_schema(
        operation_id="task_update",
        summary="Change a task (admins: any; members: their own)",
        description="Send only the fields that change, with `If-Match`. A task changed since that ETag: 412.",
        parameters=[TASK_ID, IF_MATCH],
        request=TaskWriteSerializer,
        responses={200: TaskSerializer},
        examples=[OpenApiExample("raise priority", value={"priority": "urgent"}, request_only=True), TASK_EXAMPLE],
        tags=["tasks"],
    )
    def patch(self, request: Request, task_id: str) -> Response:
        task = task_for_user(request.user, task_id)
        if not task_can_edit(request.user, task):
            raise PermissionDenied("You may not change this task.")
        incoming = TaskWriteSerializer(data=request.data, partial=True)
        incoming.is_valid(raise_exception=True)
        version = _version_from(request, task)
        if version != task.version:
            raise PreconditionFailed()
        detail = task_detail_current(task)
        fields = {
            "title": task.title,
            "description": detail["description"],
            "status": task.status,
            "priority": task.priority,
            "assignee_id": task.assignee_id,
            "due_at": task.due_at,
            "tags": detail["tags"],
            "custom_fields": detail["custom_fields"],
            **incoming.validated_data,
        }
        try:
            updated = services.task_update(actor=request.user, task_id=task.id, expected_version=version, **fields)
        except Conflict:  # changed between the check above and the version-guarded write
            raise PreconditionFailed() from None
        return task_response(request.user, updated)

    @extend_schema(
        operation_id="task_delete",
        summary="Delete a task (team admins)",
        parameters=[TASK_ID, IF_MATCH_OPTIONAL],
        responses={204: None},
        tags=["tasks"],
    )
    def delete(self, request: Request, task_id: str) -> Response:
        task = task_for_user(request.user, task_id)
        if not permission_has(request.user, task.team_id, "task.delete"):
            raise PermissionDenied("You may not delete tasks in this team.")
        if_match_check(request, task_etag(task))
        services.task_delete(actor=request.user, task_id=task.id)
        return Response(status=204)


class TaskMoveView(ApiView):
    extra_problem_codes = {"POST": (412, 428)}

    @extend_schema(
        operation_id="task_move",
        summary="Move a task to another column (admins: any; members: their own)",
        description="One status change, as on the board: only the moves the board allows (e.g. not from Backlog "
        "straight to Done). Needs `If-Match`; a task changed since that ETag: 412.",
        parameters=[TASK_ID, IF_MATCH],
        request=TaskMoveSerializer,
        responses={200: TaskSerializer},
        examples=[OpenApiExample("start it", value={"status": "in_progress"}, request_only=True), TASK_EXAMPLE],
        tags=["tasks"],
    )
    def post(self, request: Request, task_id: str) -> Response:
        task = task_for_user(request.user, task_id)
        if not task_can_edit(request.user, task):
            raise PermissionDenied("You may not move this task.")
        incoming = TaskMoveSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        version = _version_from(request, task)
        try:
            moved, _old = services.task_move(
                actor=request.user, task_id=task.id, status=incoming.validated_data["status"], expected_version=version
            )
        except Conflict:
            raise PreconditionFailed() from None
        return task_response(request.user, moved)
