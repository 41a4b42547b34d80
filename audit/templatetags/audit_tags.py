"""`{% audit_history_link table record_id %}`: a link to a record's audit history, for admins only.

    {% load audit_tags %}
    {% audit_history_link "bookings_booking" booking.pk %}
    {% audit_history_link "tasks_task" task.pk also="task_detail,task_comment" label="Audit trail" %}

Renders nothing for anyone who is not a site admin (the history page would be a 404
for them anyway). `also` adds the content tables audited under the same record id.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django import template
from django.urls import reverse
from django.utils.html import format_html

register = template.Library()


def history_url(table: str, record_id: Any, also: str = "") -> str:
    url = reverse("audit:history", args=[table, str(record_id)])
    return f"{url}?{urlencode({'also': also})}" if also else url


@register.simple_tag(takes_context=True)
def audit_history_link(
    context: template.Context, table: str, record_id: Any, also: str = "", label: str = "History"
) -> str:
    request = context.get("request")
    user = getattr(request, "user", None) or context.get("user")
    if user is None or not user.is_authenticated or not user.is_site_admin:
        return ""
    return format_html(
        '<a class="button secondary small audit-history-link" href="{}">{}</a>',
        history_url(table, record_id, also),
        label,
    )
