"""Forms: parse and type-check input; business rules live in tasks.services."""

from __future__ import annotations

from typing import Any

from django import forms

from taskforge.params import PAGE_MAX
from taskforge.widgets import DateInput, DateTimeInput
from tasks.models import CustomFieldType, TaskPriority, TaskStatus, TeamCustomField
from tasks.selectors.board import SORT_LABELS

DUE_INPUT_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"]


class TaskForm(forms.Form):
    """Create/edit a task. Custom fields of the team are added as cf_<key> fields."""

    title = forms.CharField(max_length=200)
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 8}),
        required=False,
        max_length=20_000,
        help_text="Markdown. Links are allowed; scripts and images are not.",
    )
    status = forms.CharField(widget=forms.Select(choices=TaskStatus.choices), initial=TaskStatus.TODO)
    priority = forms.CharField(widget=forms.Select(choices=TaskPriority.choices), initial=TaskPriority.MEDIUM)
    assignee = forms.CharField(required=False, widget=forms.Select())
    due_at = forms.DateTimeField(
        required=False,
        input_formats=DUE_INPUT_FORMATS,
        widget=DateTimeInput,
        label="Due",
        help_text="In your time zone (set on your profile).",
    )
    tags = forms.CharField(required=False, max_length=1000, help_text="Comma-separated, e.g. ops, billing")
    version = forms.IntegerField(widget=forms.HiddenInput(), required=False, min_value=1)

    def __init__(
        self,
        *args: Any,
        members: list[dict[str, Any]],
        custom_fields: list[TeamCustomField],
        statuses: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignee"].widget.choices = [("", "Unassigned")] + [
            (str(m["id"]), f"{m['name']} ({m['role']})") for m in members if m["role"] != "guest"
        ]
        if statuses is not None:
            labels = dict(TaskStatus.choices)
            self.fields["status"].widget.choices = [(s, labels[s]) for s in statuses]
        self.custom_definitions = custom_fields
        for definition in custom_fields:
            name = f"cf_{definition.key}"
            if definition.field_type == CustomFieldType.CHOICE:
                field: forms.Field = forms.CharField(
                    required=False, widget=forms.Select(choices=[("", "—")] + [(c, c) for c in definition.choices])
                )
            elif definition.field_type == CustomFieldType.DATE:
                field = forms.CharField(required=False, widget=DateInput)
            elif definition.field_type == CustomFieldType.NUMBER:
                field = forms.CharField(required=False, widget=forms.TextInput(attrs={"inputmode": "decimal"}))
            else:
                field = forms.CharField(required=False, max_length=2000)
            field.label = definition.label + (" *" if definition.required else "")
            self.fields[name] = field

    def custom_values(self) -> dict[str, Any]:
        return {d.key: self.cleaned_data.get(f"cf_{d.key}") for d in self.custom_definitions}


class QuickAddForm(forms.Form):
    """Quick add at the top of a board column: a title (Enter sends it) in that column."""

    title = forms.CharField(max_length=200, label="Title")
    status = forms.ChoiceField(choices=TaskStatus.choices, widget=forms.HiddenInput())


class TaskFilterForm(forms.Form):
    """Filters of the list view. Invalid values are reported, never silently dropped."""

    status = forms.MultipleChoiceField(choices=TaskStatus.choices, required=False)
    priority = forms.MultipleChoiceField(choices=TaskPriority.choices, required=False)
    assignee = forms.CharField(required=False)
    tag = forms.CharField(required=False, max_length=40)
    due_from = forms.DateField(required=False, widget=DateInput)
    due_to = forms.DateField(required=False, widget=DateInput)
    overdue = forms.BooleanField(required=False)
    sort = forms.ChoiceField(choices=list(SORT_LABELS.items()), required=False)
    page = forms.IntegerField(required=False, min_value=1, max_value=PAGE_MAX)

    def __init__(self, *args: Any, member_ids: set[int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.member_ids = member_ids

    def clean_assignee(self) -> str:
        value = (self.cleaned_data.get("assignee") or "").strip()
        if value in ("", "me", "none"):
            return value
        # isascii(): "²" is a digit to isdigit() that int() refuses; 19 digits: int() refuses
        # 4,300 and more, and no user id is longer than a bigint.
        if not (value.isascii() and value.isdigit()) or len(value) > 19 or int(value) not in self.member_ids:
            raise forms.ValidationError("Choose a member of this team, 'me' or 'none'.")
        return value

    def clean_tag(self) -> str:
        return (self.cleaned_data.get("tag") or "").strip().lower()

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("due_from") and data.get("due_to") and data["due_from"] > data["due_to"]:
            self.add_error("due_to", "The end of the due window is before its start.")
        return data


BOARD_DUE_CHOICES = [("", "Any due date"), ("overdue", "Overdue"), ("week", "Due this week"), ("none", "No due date")]


class BoardFilterForm(forms.Form):
    """Filters of the board, kept in the URL (GET) so a filtered board can be shared.
    Invalid values are reported, never silently dropped."""

    assignee = forms.CharField(required=False)
    # "" is the menu's "Any"; a shared link may name several priorities.
    priority = forms.MultipleChoiceField(choices=[("", "Any"), *TaskPriority.choices], required=False)
    tag = forms.CharField(required=False, max_length=40)
    due = forms.ChoiceField(choices=BOARD_DUE_CHOICES, required=False)
    mine = forms.BooleanField(required=False, label="Only mine")

    def __init__(self, *args: Any, member_ids: set[int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.member_ids = member_ids

    clean_assignee = TaskFilterForm.clean_assignee
    clean_tag = TaskFilterForm.clean_tag

    def clean_priority(self) -> list[str]:
        return [p for p in self.cleaned_data.get("priority") or [] if p]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("mine"):
            if data.get("assignee") not in ("", "me", None):
                self.add_error("mine", "“Only mine” and another assignee cannot both be chosen.")
            else:
                data["assignee"] = "me"
        return data


class CustomFieldForm(forms.Form):
    key = forms.CharField(max_length=40, help_text="Short key: lower-case letters, digits and _")
    label = forms.CharField(max_length=80)
    field_type = forms.ChoiceField(choices=CustomFieldType.choices, label="Type")
    choices = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="For choice fields: one per line or comma-separated.",
    )
    required = forms.BooleanField(required=False)


class CommentForm(forms.Form):
    body = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4, "data-mention": "1"}),
        max_length=10_000,
        label="Comment",
        help_text="Markdown. Mention teammates with @name.",
    )
    file = forms.FileField(required=False, label="Attach a file")


class AttachmentForm(forms.Form):
    file = forms.FileField()
