"""Reads of the tasks app, by subject: permission-scoped, a constant number of queries per page.

Every task read goes through PostgreSQL row-level security (tasks_task: rows of the teams
the context user belongs to) and the app-level check (permission_has ... "task.view").
Selectors never import services (tasks.services builds on them, not the other way).

* teams: the person's teams, a team's members and custom-field definitions;
* tasks: one task for a person (or 404), who may edit it, its current detail state,
  a comment or an attachment of it;
* board: board columns and task lists (filters, sorting, pages, "my tasks");
* task_page: what the task page shows (detail document, comments, history), cached;
* search: full-text search with typo correction;
* notifications: the unread count and a person's notifications;
* dashboard: the numbers of the dashboards, cached.
"""
