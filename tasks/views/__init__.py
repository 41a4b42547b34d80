"""Views of the tasks app, by page: parse, call a service or selector, render (a full page or
an htmx partial).

Outsiders get 404 for a team's tasks (the selectors' loaders raise it); team members without
the needed permission get 403 (PermissionDenied from accounts.permissions.permission_require).
A refused service call (taskforge.errors) is answered by ServiceErrorMiddleware, except in
views with a form, which show it on the form with form_refusal() so nothing typed is lost.

* board: overview pages, the board and its card moves, the task list, search;
* task_pages: create, edit, delete, watch, and the task page;
* comments: comments, attachments, @mention suggestions;
* custom_fields: a team's custom-field definitions;
* notifications: the bell and the list;
* dashboard: the dashboards.
"""
