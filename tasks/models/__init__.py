"""Models of the tasks app: relational rows in PostgreSQL (relational.py) and content
documents in MongoDB (content.py, routed by taskforge/routers.py CONTENT_MODELS)."""

from __future__ import annotations

from tasks.models.content import Attachment, Notification, TaskComment, TaskDetail
from tasks.models.relational import (
    PRIORITY_RANK,
    TASK_VOCABULARY,
    TEAM_MEMBER_SQL,
    CustomFieldType,
    Task,
    TaskPriority,
    TaskSearch,
    TaskSearchWord,
    TaskStatus,
    TaskWatcher,
    TeamCustomField,
    TeamTaskPolicy,
)

__all__ = [
    "PRIORITY_RANK",
    "TASK_VOCABULARY",
    "TEAM_MEMBER_SQL",
    "Attachment",
    "CustomFieldType",
    "Notification",
    "Task",
    "TaskComment",
    "TaskDetail",
    "TaskPriority",
    "TaskSearch",
    "TaskSearchWord",
    "TaskStatus",
    "TaskWatcher",
    "TeamCustomField",
    "TeamTaskPolicy",
]
