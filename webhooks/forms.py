"""Forms of the webhooks pages. The rules (URL, SSRF guard, events per scope) are the services'."""

from __future__ import annotations

from typing import Any

from django import forms

from webhooks.models import EVENT_TYPES_BY_SCOPE

EVENT_LABELS = {
    "task.created": "A task is created",
    "task.updated": "A task is edited",
    "task.moved": "A task moves to another column",
    "task.deleted": "A task is deleted",
    "comment.created": "A comment is added",
    "booking.created": "A booking is made",
    "booking.confirmed": "A booking is confirmed",
    "booking.cancelled": "A booking is cancelled",
}


class EndpointForm(forms.Form):
    url = forms.CharField(
        max_length=2000,
        label="Payload URL",
        help_text="An http:// or https:// URL on the public internet; it receives a signed POST per event.",
        widget=forms.URLInput(attrs={"placeholder": "https://example.com/hooks/taskforge"}),
    )
    description = forms.CharField(max_length=200, required=False)
    event_types = forms.MultipleChoiceField(widget=forms.CheckboxSelectMultiple, label="Events")

    def __init__(self, *args: Any, scope: str, with_active: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["event_types"].choices = [(t, f"{EVENT_LABELS[t]} ({t})") for t in EVENT_TYPES_BY_SCOPE[scope]]
        if with_active:
            self.fields["active"] = forms.BooleanField(
                required=False, label="Active", help_text="A disabled endpoint is sent nothing."
            )
