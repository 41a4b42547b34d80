"""Every write of the tasks app, by subject: keyword-only arguments, one transaction each,
side effects after commit. Reads are in tasks.selectors (which never import these).

* tasks: create, edit, move on the board, delete, watch, attach a file;
* custom_fields: a team's custom-field definitions;
* comments: comments with @mentions and files, and their moderation by site admins (the admin);
* notifications: in-app notifications, their read state, the due-date scan (Celery job)
  and the email side.

Import a write from its subject module. The package also names them all, for callers that
use the app's writes as one interface (the authorization matrix, tasks/tests/authz.py).
"""

from __future__ import annotations

from tasks.services.comments import comment_create, comment_delete, comment_update
from tasks.services.custom_fields import custom_field_delete, custom_field_save
from tasks.services.notifications import (
    notification_mark_read,
    notifications_due_scan,
    notifications_mark_all_read,
    notifications_mark_task_read,
)
from tasks.services.tasks import task_attachment_add, task_create, task_delete, task_move, task_update, task_watch_set

__all__ = [
    "comment_create",
    "comment_delete",
    "comment_update",
    "custom_field_delete",
    "custom_field_save",
    "notification_mark_read",
    "notifications_due_scan",
    "notifications_mark_all_read",
    "notifications_mark_task_read",
    "task_attachment_add",
    "task_create",
    "task_delete",
    "task_move",
    "task_update",
    "task_watch_set",
]
